// portcullisd: wiring only (flags, configuration, the server).
#include <libssh/libssh.h>

#include <cstdio>
#include <cstdlib>
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

    // The file, then the flags on top; run again on SIGHUP.
    std::optional<std::string> configFile;
    if (args.count("config")) configFile = args["config"].as<std::string>();
    std::optional<std::string> listenFlag;
    if (args.count("listen")) listenFlag = args["listen"].as<std::string>();
    std::optional<std::string> levelFlag;
    if (args.count("log-level")) levelFlag = args["log-level"].as<std::string>();
    auto loadConfig = [configFile, listenFlag, levelFlag]() -> Result<Config> {
        Config config;
        if (configFile) {
            if (auto ok = config.loadFile(*configFile); !ok) return makeError(ok.error());
        }
        if (listenFlag) {
            if (auto ok = config.setListen(*listenFlag); !ok) return makeError(ok.error());
        }
        if (levelFlag) {
            auto level = parseLogLevel(*levelFlag);
            if (!level) return makeError(level.error());
            config.logLevel = *level;
        }
        if (auto ok = config.validate(); !ok) return makeError(ok.error());
        return config;
    };
    auto loaded = loadConfig();
    if (!loaded) {
        std::cerr << "portcullisd: " << loaded.error() << "\n";
        return 2;
    }
    const Config config = std::move(loaded).value();
    if (args.count("check-config")) {
        std::cout << "configuration ok\n";
        return 0;
    }

    std::optional<std::string> stateFlag;
    if (args.count("state-dir")) stateFlag = args["state-dir"].as<std::string>();

    // libssh answers gssapi-with-mic itself, before the gateway sees the
    // attempt (its message API cannot be combined with the OID callback that
    // would hand the choice over). With no keytab it can never acquire
    // acceptor credentials, so that negotiation always fails; set before any
    // thread starts.
    ::setenv("KRB5_KTNAME", "FILE:/dev/null", 1);
    ::setenv("KRB5_CONFIG", "/dev/null", 1);
    if (ssh_init() != SSH_OK) {
        std::cerr << "portcullisd: cannot initialise libssh\n";
        return 1;
    }
    Logger log(config.logLevel);
    int code = 1;
    {
        Server server(config, db::StateDir::resolve(stateFlag), log, loadConfig);
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
