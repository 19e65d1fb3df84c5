#pragma once
// A command of the table that `portcullis` dispatches on: its words, its usage
// and help, its flags (cxxopts) and its handler. Each command family exports
// its part of the table (userCommands(), ...); dispatcher.cpp joins them.
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <cxxopts.hpp>

namespace portcullis::cli {

// Flags accepted anywhere on the line.
struct Globals {
    std::optional<std::string> stateDir;  // --state-dir DIR
    bool json = false;                    // --json
    bool help = false;                    // --help / -h
    bool version = false;                 // --version (before any command word)
};

struct CommandSpec;

// What a handler receives: the global flags, its own parsed flags and its
// positional arguments (already checked against minArgs/maxArgs).
class Invocation {
  public:
    Invocation(const CommandSpec& spec, const Globals& globals, const cxxopts::ParseResult* flags,
               std::vector<std::string> args)
        : spec_(spec), globals_(globals), flags_(flags), args_(std::move(args)) {}

    const CommandSpec& spec() const { return spec_; }
    const Globals& globals() const { return globals_; }
    bool json() const { return globals_.json; }

    const std::vector<std::string>& args() const { return args_; }
    const std::string& arg(std::size_t i) const { return args_.at(i); }
    std::optional<std::string> optionalArg(std::size_t i) const {
        return i < args_.size() ? std::optional(args_[i]) : std::nullopt;
    }

    // A flag's value if it was given on the line.
    std::optional<std::string> option(const std::string& name) const;
    // Every value of a repeatable flag (cxxopts::value<std::vector<std::string>>).
    std::vector<std::string> options(const std::string& name) const;
    // A flag's value, or its declared default.
    std::string optionOr(const std::string& name) const;
    bool flag(const std::string& name) const;
    // "portcullis user key add": for messages that point at --help.
    std::string commandLine() const;

  private:
    const CommandSpec& spec_;
    const Globals& globals_;
    const cxxopts::ParseResult* flags_;  // null for raw (unparsed) commands
    std::vector<std::string> args_;
};

using Handler = int (*)(Invocation&);
using OptionsFn = void (*)(cxxopts::Options&);

struct CommandSpec {
    std::string_view path;     // "user key add"
    std::string_view usage;    // "NAME (--file PATH | -)"
    std::string_view summary;  // one line
    Handler run = nullptr;
    OptionsFn options = nullptr;  // the command's own flags (group "")
    int minArgs = 0;
    int maxArgs = 0;
    bool rawArgs = false;  // arguments are passed through unparsed
    // Printed after the flags by --help (e.g. the audit event types).
    void (*moreHelp)(std::ostream&) = nullptr;
};

std::vector<CommandSpec> initCommands();
std::vector<CommandSpec> userCommands();
std::vector<CommandSpec> groupCommands();
std::vector<CommandSpec> targetCommands();
std::vector<CommandSpec> grantCommands();
std::vector<CommandSpec> auditCommands();
std::vector<CommandSpec> sessionCommands();
std::vector<CommandSpec> throttleCommands();
std::vector<CommandSpec> lockCommands();
std::vector<CommandSpec> completionCommands();

// The whole table, in the order --help lists it (dispatcher.cpp).
const std::vector<CommandSpec>& commandTable();
// The words of a command path ("user key add" -> {"user", "key", "add"}).
std::vector<std::string> pathWords(std::string_view path);

}  // namespace portcullis::cli
