// portcullisd's INI file (--config, operator input), parsed by gateway/config.cpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "gateway/config.hpp"

namespace {

using portcullis::gateway::Config;

struct ConfigFile {
    portcullis::fuzz::ScratchDir scratch;
    std::filesystem::path file = scratch.path() / "portcullisd.conf";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ConfigFile kConfig;
    const std::string_view text = portcullis::fuzz::asText(data, size);
    portcullis::fuzz::writeFile(kConfig.file, text);

    Config config;
    const auto loaded = config.loadFile(kConfig.file);
    if (!loaded) {
        // "FILE:LINE: why" (or a problem of the whole file), for the operator.
        FUZZ_CHECK_MSG(loaded.error().rfind(kConfig.file.string(), 0) == 0 ||
                           loaded.error().find("must") != std::string::npos,
                       loaded.error());
    } else {
        // What loads is valid, within the documented bounds.
        FUZZ_CHECK(config.validate().ok());
        FUZZ_CHECK(config.bufferHigh >= portcullis::gateway::kMinBufferHigh &&
                   config.bufferHigh <= portcullis::gateway::kMaxBufferHigh);
        FUZZ_CHECK(config.listenPort >= 1 && !config.listenAddress.empty());
        FUZZ_CHECK(config.threads >= 0 && config.threads <= 256);
        FUZZ_CHECK(config.authFailureDelay.count() >= 0 &&
                   config.authFailureDelay.count() <= 10000);
        FUZZ_CHECK(config.maxStartupsPerSource <= config.maxStartups);
    }
    // --listen and --log-level take the same text on the command line.
    Config flags;
    if (flags.setListen(text)) FUZZ_CHECK(flags.listenPort >= 1 && !flags.listenAddress.empty());
    if (const auto level = portcullis::gateway::parseLogLevel(text)) {
        const std::string name = portcullis::gateway::logLevelName(*level);
        FUZZ_CHECK(portcullis::gateway::parseLogLevel(name).ok());
    }
    return 0;
}
