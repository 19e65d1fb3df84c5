// What reaches pam_portcullis.so from outside: its arguments on the PAM stack
// line (operator input) and the answers a person types at its prompts
// (untrusted: console, sshd, su, sudo). The answer goes through the module's
// real Conversation::ask, under a libpam handle whose conversation function
// returns the input, then through the module's normalisation and checks.
#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "pam_module/account_name.hpp"
#include "pam_module/conversation.hpp"
#include "pam_module/log.hpp"
#include "pam_module/options.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::pam;

// Arguments as libpam hands them over: the line split at blanks.
std::vector<std::string> splitArguments(std::string_view line) {
    std::vector<std::string> out;
    std::string current;
    for (const char c : line) {
        if (c == ' ' || c == '\t' || c == '\n') {
            if (!current.empty()) out.push_back(std::move(current));
            current.clear();
        } else {
            current += c;
        }
    }
    if (!current.empty()) out.push_back(std::move(current));
    return out;
}

Result<ModuleOptions> parse(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return parseOptions(static_cast<int>(argv.size()), argv.data());
}

void checkOptions(std::string_view line) {
    const auto args = splitArguments(line);
    const auto options = parse(args);
    if (!options) return;
    FUZZ_CHECK(options->stateDir.is_absolute());
    FUZZ_CHECK(!options->window || (*options->window >= 0 && *options->window <= kMaxWindow));
    FUZZ_CHECK(!options->group || !options->group->empty());
    // The options written out again parse to the same options.
    std::vector<std::string> again{
        "state_dir=" + options->stateDir.string(),
        options->account == AccountMode::ask ? "account=ask" : "account=same"};
    if (options->group) again.push_back("group=" + *options->group);
    if (options->window) again.push_back("window=" + std::to_string(*options->window));
    if (options->debug) again.emplace_back("debug");
    const auto reparsed = parse(again);
    FUZZ_CHECK(reparsed);
    FUZZ_CHECK(reparsed->stateDir == options->stateDir && reparsed->account == options->account &&
               reparsed->group == options->group && reparsed->window == options->window &&
               reparsed->debug == options->debug);
}

// The conversation of the application: one answer, malloc'ed as libpam expects.
struct Typed {
    std::string answer;
};

int converse(int count, const pam_message** messages, pam_response** responses, void* data) {
    if (count != 1 || messages == nullptr) return PAM_CONV_ERR;
    const auto* typed = static_cast<const Typed*>(data);
    auto* response = static_cast<pam_response*>(std::calloc(1, sizeof(pam_response)));
    if (response == nullptr) return PAM_BUF_ERR;
    response->resp = static_cast<char*>(std::malloc(typed->answer.size() + 1));
    if (response->resp == nullptr) {
        std::free(response);
        return PAM_BUF_ERR;
    }
    std::memcpy(response->resp, typed->answer.c_str(), typed->answer.size() + 1);
    *responses = response;
    return PAM_SUCCESS;
}

// Owns a libpam handle (no stack is ever run on it).
struct PamHandle {
    pam_handle_t* handle = nullptr;
    PamHandle(const char* confdir, Typed& typed) {
        const pam_conv conv{converse, &typed};
        if (pam_start_confdir("portcullis-fuzz", "fuzz", &conv, confdir, &handle) != PAM_SUCCESS) {
            handle = nullptr;
        }
    }
    ~PamHandle() {
        if (handle != nullptr) pam_end(handle, PAM_SUCCESS);
    }
    PamHandle(const PamHandle&) = delete;
    PamHandle& operator=(const PamHandle&) = delete;
};

bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

void checkAnswer(std::string_view input, const char* confdir) {
    Typed typed{std::string(input)};
    PamHandle pam(confdir, typed);
    FUZZ_CHECK(pam.handle != nullptr);
    auto answer = Conversation(pam.handle).ask("Verification code: ", Echo::off);
    FUZZ_CHECK(answer);
    // A C string: what the person typed up to the first NUL, refused whole when long.
    const std::string_view asString = input.substr(0, input.find('\0'));
    if (asString.size() > kMaxAnswer) {
        FUZZ_CHECK(answer->overlong && answer->text.empty());
        return;
    }
    FUZZ_CHECK(!answer->overlong && answer->text.view() == asString);

    const std::string_view code = trimmed(answer->text);
    const std::string_view all = answer->text.view();
    FUZZ_CHECK(code.empty() ||
               (code.data() >= all.data() && code.data() + code.size() <= all.data() + all.size()));
    FUZZ_CHECK(code.empty() || (!blank(code.front()) && !blank(code.back())));
    if (plausibleAccountName(code)) {
        FUZZ_CHECK(code.size() <= kMaxAccountName && fuzz::printableAscii(code));
    }
    if (looksLikeCode(code))
        FUZZ_CHECK(code.find_first_not_of("0123456789- ") == std::string::npos);
    // Whatever is logged is printable and bounded.
    for (const std::size_t limit : {std::size_t{0}, std::size_t{16}, std::size_t{128}}) {
        const std::string shown = printable(input, limit);
        FUZZ_CHECK(fuzz::printableAscii(shown));
        FUZZ_CHECK(shown.size() <= limit + 3);
    }
}

// A PAM configuration directory with an empty stack for the service: the
// handle is only used for its conversation.
struct ConfDir {
    fuzz::ScratchDir scratch;
    ConfDir() { fuzz::writeFile(scratch.path() / "portcullis-fuzz", "# no modules\n"); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ConfDir kConfDir;
    const std::string_view input = fuzz::asText(data, size);
    checkOptions(input);
    checkAnswer(input, kConfDir.scratch.path().c_str());
    return 0;
}
