// portcullis: the admin command line (SPEC §4). Wiring only.
#include <sys/stat.h>

#include "admin_cli/dispatcher.hpp"

int main(int argc, char** argv) {
    // Every file this program creates (keys, database, master key) starts
    // private; StateDir::adopt then sets the intended owner and mode.
    ::umask(077);
    return portcullis::cli::run(argc, argv);
}
