// The SSH user name a client sends before authenticating (untrusted):
// ACCOUNT | ACCOUNT:TARGET | ACCOUNT:LOGIN@TARGET.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/user_spec.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

using portcullis::isValidName;

bool validLogin(const std::string& login) {
    if (!login.empty() && login.back() == '$') {
        return login.size() <= 64 &&
               isValidName(std::string_view(login).substr(0, login.size() - 1));
    }
    return isValidName(login);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = portcullis::fuzz::asText(data, size);
    const auto spec = portcullis::parseUserSpec(text);
    if (!spec) {
        // The message is logged and sent to the client: one line, no control bytes.
        FUZZ_CHECK_MSG(portcullis::fuzz::printableAscii(spec.error()), spec.error());
        FUZZ_CHECK(spec.error().size() < 400);
        FUZZ_CHECK(!isValidName(text));
        return 0;
    }
    FUZZ_CHECK(isValidName(spec->account));
    FUZZ_CHECK(spec->login.empty() || validLogin(spec->login));
    FUZZ_CHECK(spec->target.empty() ? spec->login.empty() : isValidName(spec->target));
    // Nothing is normalised: the parts put back together are the input.
    std::string again = spec->account;
    if (!spec->target.empty()) {
        again += ':';
        if (!spec->login.empty()) again += spec->login + '@';
        again += spec->target;
    }
    FUZZ_CHECK_MSG(again == text, again);
    return 0;
}
