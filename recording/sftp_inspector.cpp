#include "recording/sftp_inspector.hpp"
