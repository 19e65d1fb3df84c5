#include "recording/cast_writer.hpp"
