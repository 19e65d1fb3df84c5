#include "admin_cli/cli_error.hpp"

#include <iostream>

namespace portcullis::cli {

void printError(std::string_view message) {
    std::cout.flush();  // keep stdout and stderr in order on a shared terminal
    std::cerr << "portcullis: " << message << '\n';
}

}  // namespace portcullis::cli
