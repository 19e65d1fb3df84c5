#include "recording/recording_reader.hpp"
