#pragma once
// The command line's entry point: global flags, dispatch on the command words
// through the command table, help at every level, and the mapping of errors to
// exit codes (0 ok, 1 refused/failed, 2 usage).

namespace portcullis::cli {

int run(int argc, char** argv);

}  // namespace portcullis::cli
