#include "recording/recording_meta.hpp"
