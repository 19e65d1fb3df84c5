#include "recording/rec_format.hpp"
