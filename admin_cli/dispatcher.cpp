#include "admin_cli/dispatcher.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "db/error.hpp"

namespace portcullis::cli {
namespace {

using Words = std::vector<std::string>;

std::string joinWords(const Words& words, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count && i < words.size(); ++i) {
        if (i) out += ' ';
        out += words[i];
    }
    return out;
}

// Does `prefix` start the path of some command?
bool isPathPrefix(const Words& prefix) {
    return std::any_of(commandTable().begin(), commandTable().end(), [&](const CommandSpec& c) {
        const Words path = pathWords(c.path);
        return prefix.size() <= path.size() &&
               std::equal(prefix.begin(), prefix.end(), path.begin());
    });
}

const CommandSpec* findLeaf(const Words& words) {
    for (const auto& c : commandTable()) {
        if (pathWords(c.path) == words) return &c;
    }
    return nullptr;
}

// ---- help -------------------------------------------------------------------

constexpr std::string_view kGlobalHelp =
    "Global flags (anywhere on the line):\n"
    "  --state-dir DIR  state directory (default: $PORTCULLIS_STATE_DIR, else "
    "/var/lib/portcullis)\n"
    "  --json           machine output: JSON objects and arrays, snake_case keys, ISO 8601 UTC "
    "times\n"
    "  -h, --help       help for any command or group, e.g. `portcullis user key add --help`\n"
    "  --version        the version of portcullis\n"
    "\n"
    "Exit codes: 0 success, 1 refused/failed/not found/denied, 2 usage error.\n";

void printCommandList(std::ostream& out, const Words& prefix) {
    constexpr std::size_t kColumn = 46;
    for (const auto& c : commandTable()) {
        const Words path = pathWords(c.path);
        if (prefix.size() > path.size() ||
            !std::equal(prefix.begin(), prefix.end(), path.begin())) {
            continue;
        }
        std::string head = std::string(c.path);
        if (!c.usage.empty()) head += " " + std::string(c.usage);
        out << "  " << head;
        if (head.size() + 2 < kColumn) {
            out << std::string(kColumn - head.size() - 2, ' ');
        } else {
            out << "\n" << std::string(kColumn, ' ');
        }
        out << c.summary << '\n';
    }
}

void printTopHelp(std::ostream& out) {
    out << "portcullis: admin command line of the Portcullis SSH gateway\n"
           "\n"
           "Usage: portcullis [--state-dir DIR] [--json] COMMAND [ARGS...]\n"
           "\n"
           "Commands:\n";
    printCommandList(out, {});
    out << "\nSUBJECT is an account name or @group; TARGET a target name or a glob (cosigner-*).\n"
           "DUR is 90s, 30m, 8h, 7d (or combined, 1h30m). WINDOW is \"Mon-Fri 08:00-18:00 "
           "[ZONE]\".\n"
           "\n"
        << kGlobalHelp;
}

void printGroupHelp(std::ostream& out, const Words& group) {
    out << "Usage: portcullis " << joinWords(group, group.size()) << " COMMAND [ARGS...]\n\n"
        << "Commands:\n";
    printCommandList(out, group);
    out << '\n' << kGlobalHelp;
}

std::string subcommandNames(const Words& group) {
    std::vector<std::string> names;
    for (const auto& c : commandTable()) {
        const Words path = pathWords(c.path);
        if (path.size() > group.size() && std::equal(group.begin(), group.end(), path.begin()) &&
            std::find(names.begin(), names.end(), path[group.size()]) == names.end()) {
            names.push_back(path[group.size()]);
        }
    }
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// ---- global flags -----------------------------------------------------------

// Consumes a global flag at args[i], if there is one; returns how many
// arguments it took (0: not a global flag).
std::size_t takeGlobalFlag(const Words& args, std::size_t i, Globals& globals) {
    const std::string& a = args[i];
    if (a == "--json") {
        globals.json = true;
        return 1;
    }
    if (a == "--help" || a == "-h") {
        globals.help = true;
        return 1;
    }
    if (a == "--version") {
        globals.version = true;
        return 1;
    }
    if (a == "--state-dir") {
        if (i + 1 >= args.size()) throw UsageError("--state-dir needs a directory");
        globals.stateDir = args[i + 1];
        return 2;
    }
    if (a.starts_with("--state-dir=")) {
        globals.stateDir = a.substr(std::string_view("--state-dir=").size());
        return 1;
    }
    return 0;
}

void addGlobalOptions(cxxopts::Options& options) {
    // clang-format off
    options.add_options("Global")
        ("state-dir", "state directory (default: $PORTCULLIS_STATE_DIR, else /var/lib/portcullis)",
         cxxopts::value<std::string>(), "DIR")
        ("json", "machine output (JSON)")
        ("h,help", "this help");
    // clang-format on
}

// ---- one command ------------------------------------------------------------

int runLeaf(const CommandSpec& spec, Globals globals, const Words& rest) {
    const std::string program = "portcullis " + std::string(spec.path);
    if (spec.rawArgs) {
        Words args;
        for (std::size_t i = 0; i < rest.size();) {
            const std::size_t used = takeGlobalFlag(rest, i, globals);
            if (used == 0) args.push_back(rest[i]);
            i += used ? used : 1;
        }
        Invocation inv(spec, globals, nullptr, args);
        return spec.run(inv);
    }

    cxxopts::Options options(program, std::string(spec.summary));
    options.custom_help(std::string(spec.usage)).positional_help("").set_width(100);
    if (spec.options) spec.options(options);
    addGlobalOptions(options);
    options.add_options("positional")("positional", "", cxxopts::value<Words>());
    options.parse_positional({"positional"});

    std::vector<const char*> argv{program.c_str()};
    for (const auto& a : rest) argv.push_back(a.c_str());
    const auto flags = options.parse(static_cast<int>(argv.size()), argv.data());

    if (flags.count("json")) globals.json = true;
    if (flags.count("help")) globals.help = true;
    if (flags.count("state-dir")) globals.stateDir = flags["state-dir"].as<std::string>();
    if (globals.help) {
        std::cout << options.help({"", "Global"});
        if (spec.moreHelp) spec.moreHelp(std::cout);
        return kExitOk;
    }

    Words args = flags.count("positional") ? flags["positional"].as<Words>() : Words{};
    if (static_cast<int>(args.size()) < spec.minArgs) {
        throw UsageError("missing argument: usage: " + program + " " + std::string(spec.usage));
    }
    if (static_cast<int>(args.size()) > spec.maxArgs) {
        throw UsageError("unexpected argument `" + args[spec.maxArgs] + "`: usage: " + program +
                         " " + std::string(spec.usage));
    }
    Invocation inv(spec, globals, &flags, std::move(args));
    return spec.run(inv);
}

int dispatch(const Words& args) {
    Globals globals;
    Words words;
    std::size_t i = 0;
    const CommandSpec* leaf = nullptr;
    while (i < args.size() && !leaf) {
        if (std::size_t used = takeGlobalFlag(args, i, globals)) {
            i += used;
            continue;
        }
        const std::string& a = args[i];
        if (a.size() > 1 && a[0] == '-') break;  // a command flag: the leaf decides
        Words candidate = words;
        candidate.push_back(a);
        if (!isPathPrefix(candidate)) break;
        words = std::move(candidate);
        ++i;
        leaf = findLeaf(words);
    }
    if (leaf) {
        const Words rest(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
        try {
            return runLeaf(*leaf, globals, rest);
        } catch (const UsageError& e) {
            throw UsageError(std::string(e.what()) + " (see `portcullis " +
                             std::string(leaf->path) + " --help`)");
        } catch (const cxxopts::exceptions::exception& e) {
            throw UsageError(std::string(e.what()) + " (see `portcullis " +
                             std::string(leaf->path) + " --help`)");
        }
    }

    const std::string seeHelp =
        words.empty() ? "see `portcullis --help`"
                      : "see `portcullis " + joinWords(words, words.size()) + " --help`";
    if (i < args.size()) {
        const std::string& a = args[i];
        if (a.size() > 1 && a[0] == '-') {
            throw UsageError("unknown flag " + a + " (" + seeHelp + ")");
        }
        throw UsageError("unknown command `" + joinWords(words, words.size()) +
                         (words.empty() ? "" : " ") + a + "` (" + seeHelp + ")");
    }
    if (globals.version && words.empty()) {
        std::cout << "portcullis " << PORTCULLIS_VERSION << '\n';
        return kExitOk;
    }
    if (globals.help) {
        if (words.empty()) {
            printTopHelp(std::cout);
        } else {
            printGroupHelp(std::cout, words);
        }
        return kExitOk;
    }
    if (words.empty()) {
        throw UsageError("missing command: " + subcommandNames(words) + " (" + seeHelp + ")");
    }
    throw UsageError("`portcullis " + joinWords(words, words.size()) +
                     "` needs a command: " + subcommandNames(words) + " (" + seeHelp + ")");
}

}  // namespace

std::vector<std::string> pathWords(std::string_view path) {
    std::vector<std::string> words;
    std::istringstream in{std::string(path)};
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

const std::vector<CommandSpec>& commandTable() {
    static const std::vector<CommandSpec> table = [] {
        std::vector<CommandSpec> all;
        for (auto family :
             {initCommands, userCommands, groupCommands, targetCommands, grantCommands,
              auditCommands, sessionCommands, throttleCommands, lockCommands, completionCommands}) {
            auto part = family();
            all.insert(all.end(), part.begin(), part.end());
        }
        return all;
    }();
    return table;
}

int run(int argc, char** argv) {
    try {
        return dispatch(Words(argv + 1, argv + argc));
    } catch (const UsageError& e) {
        printError(e.what());
        return kExitUsage;
    } catch (const Failure& e) {
        printError(e.what());
        return kExitFailure;
    } catch (const db::Error& e) {
        printError(std::string("store error: ") + e.what() +
                   " (check the state directory, then retry)");
        return kExitFailure;
    } catch (const std::exception& e) {
        printError(std::string("internal error: ") + e.what());
        return kExitFailure;
    }
}

}  // namespace portcullis::cli
