// portcullisd: wiring only (flags, configuration, the server).
#include <libssh/libssh.h>

#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>

#include "db/state_dir.hpp"
#include "gateway/config.hpp"
#include "gateway/log.hpp"
#include "gateway/server.hpp"

int main(int argc, char** argv) {
    using namespace portcullis;
    using namespace portcullis::gateway;

    cxxopts::Options options("portcullisd", "Portcullis SSH gateway");
    options.add_options()("state-dir",
                          "state directory (default $PORTCULLIS_STATE_DIR or /var/lib/portcullis)",
                          cxxopts::value<std::string>())("config", "configuration file (INI)",
                                                         cxxopts::value<std::string>())(
        "listen", "listen address ADDR:PORT (default 0.0.0.0:2222)", cxxopts::value<std::string>())(
        "log-level", "debug, info, warn or error (default info)", cxxopts::value<std::string>())(
        "check-config", "validate the configuration and exit")("version", "print the version")(
        "h,help", "show this help");
    cxxopts::ParseResult args;
    try {
        args = options.parse(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "portcullisd: " << e.what() << "\n" << options.help() << "\n";
        return 2;
    }
    if (args.count("help")) {
        std::cout << options.help() << "\n";
        return 0;
    }
    if (args.count("version")) {
        std::cout << "portcullisd " << PORTCULLIS_VERSION << "\n";
        return 0;
    }
    if (!args.unmatched().empty()) {
        std::cerr << "portcullisd: unexpected argument \"" << args.unmatched().front() << "\"\n";
        return 2;
    }

    Config config;
    if (args.count("config")) {
        if (auto ok = config.loadFile(args["config"].as<std::string>()); !ok) {
            std::cerr << "portcullisd: " << ok.error() << "\n";
            return 2;
        }
    }
    if (args.count("listen")) {
        if (auto ok = config.setListen(args["listen"].as<std::string>()); !ok) {
            std::cerr << "portcullisd: " << ok.error() << "\n";
            return 2;
        }
    }
    if (args.count("log-level")) {
        auto level = parseLogLevel(args["log-level"].as<std::string>());
        if (!level) {
            std::cerr << "portcullisd: " << level.error() << "\n";
            return 2;
        }
        config.logLevel = *level;
    }
    if (auto ok = config.validate(); !ok) {
        std::cerr << "portcullisd: " << ok.error() << "\n";
        return 2;
    }
    if (args.count("check-config")) {
        std::cout << "configuration ok\n";
        return 0;
    }

    std::optional<std::string> stateFlag;
    if (args.count("state-dir")) stateFlag = args["state-dir"].as<std::string>();

    if (ssh_init() != SSH_OK) {
        std::cerr << "portcullisd: cannot initialise libssh\n";
        return 1;
    }
    Logger log(config.logLevel);
    int code = 1;
    {
        Server server(config, db::StateDir::resolve(stateFlag), log);
        if (auto ok = server.prepare(); !ok) {
            log.error("gateway.start_failed", {{"error", ok.error()}});
            std::cerr << "portcullisd: " << ok.error() << "\n";
        } else {
            code = server.run();
        }
    }
    ssh_finalize();
    return code;
}
