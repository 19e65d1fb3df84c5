// OpenSSH public key lines (`portcullis user key add`, --host-key): operator
// input, and the base64 blob inside them that came from anywhere.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ssh_public_key.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

using portcullis::SshPublicKey;

void checkKey(const SshPublicKey& key) {
    FUZZ_CHECK(!key.type.empty() && !key.blob.empty());
    FUZZ_CHECK(key.bits >= 256);
    const std::string fingerprint = key.fingerprint();
    FUZZ_CHECK_MSG(fingerprint.size() == 7 + 43 && fingerprint.rfind("SHA256:", 0) == 0,
                   fingerprint);
    // The stored form reads back as the same key.
    const std::string line = key.toLine();
    const auto again = SshPublicKey::parseLine(line);
    FUZZ_CHECK_MSG(again, line + ": " + (again ? std::string() : again.error()));
    FUZZ_CHECK(again->type == key.type && again->blob == key.blob && again->bits == key.bits);
    FUZZ_CHECK(again->comment.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = portcullis::fuzz::asText(data, size);
    if (const auto key = SshPublicKey::parseLine(input)) {
        checkKey(*key);
        // Comments are kept as given, without control characters.
        for (const char c : key->comment) {
            const auto u = static_cast<unsigned char>(c);
            FUZZ_CHECK((u >= 0x20 || c == '\t') && u != 0x7f);
        }
    }
    // The same bytes as a wire-format blob (what the gateway gets from libssh).
    if (const auto key = SshPublicKey::fromBlob(input)) {
        checkKey(*key);
        FUZZ_CHECK(std::string_view(reinterpret_cast<const char*>(key->blob.data()),
                                    key->blob.size()) == input);
    }
    return 0;
}
