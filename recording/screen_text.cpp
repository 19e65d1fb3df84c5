#include "recording/screen_text.hpp"
