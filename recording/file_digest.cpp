#include "recording/file_digest.hpp"
