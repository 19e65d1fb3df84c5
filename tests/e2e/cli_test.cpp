// The admin CLI `portcullis` (SPEC §4), run as a real program against
// temporary state directories: exit codes, output, file modes, audit events,
// and refusal of bad input (which must change nothing).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/otp_guard.hpp"
#include "db/state_dir.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"
#include "tests/support/process.hpp"

extern char** environ;

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr const char* kOperator = "ops-carol";

int fileMode(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// "256 SHA256:abc... comment (ED25519)" -> "SHA256:abc..."
std::string keygenFingerprint(const fs::path& pub) {
    const auto r = runProcess({"ssh-keygen", "-lf", pub.string()});
    std::istringstream in(r.out);
    std::string bits, fingerprint;
    in >> bits >> fingerprint;
    return fingerprint;
}

void generateKey(const fs::path& file, const std::string& comment = "test-key") {
    ASSERT_EQ(runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                          file.string()})
                  .exitCode,
              0);
}

// The next Monday-Friday (from tomorrow) at HH:00 UTC, as ISO 8601.
std::string nextWeekdayAt(int hour) {
    using namespace std::chrono;
    auto day = floor<days>(system_clock::now()) + days(1);
    while (weekday(day) == Saturday || weekday(day) == Sunday) day += days(1);
    return formatIso8601(TimePoint(duration_cast<seconds>(day.time_since_epoch()) + hours(hour)));
}

// The QR code drawn by `user totp enroll` (half blocks, light = block), read
// back as rows of modules: true = dark. Empty when there is none.
std::vector<std::vector<bool>> readTerminalQr(const std::string& out) {
    struct Glyph {
        std::string_view text;
        bool topDark;
        bool bottomDark;
    };
    static constexpr Glyph kGlyphs[] = {{"\u2588", false, false},
                                        {"\u2580", false, true},
                                        {"\u2584", true, false},
                                        {" ", true, true}};
    std::vector<std::vector<bool>> rows;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        std::vector<bool> top, bottom;
        std::string_view rest = line;
        while (!rest.empty()) {
            const auto glyph =
                std::find_if(std::begin(kGlyphs), std::end(kGlyphs),
                             [&](const Glyph& g) { return rest.starts_with(g.text); });
            if (glyph == std::end(kGlyphs)) break;
            top.push_back(glyph->topDark);
            bottom.push_back(glyph->bottomDark);
            rest.remove_prefix(glyph->text.size());
        }
        if (!rest.empty() || top.size() < 29) continue;  // not a line of the drawing
        rows.push_back(top);
        rows.push_back(bottom);
    }
    return rows;
}

// A QR finder pattern (7x7: dark ring, light ring, dark 3x3) with its corner at (row, col).
bool finderAt(const std::vector<std::vector<bool>>& m, std::size_t row, std::size_t col) {
    for (std::size_t r = 0; r < 7; ++r) {
        for (std::size_t c = 0; c < 7; ++c) {
            const bool ring = r == 0 || r == 6 || c == 0 || c == 6;
            const bool centre = r >= 2 && r <= 4 && c >= 2 && c <= 4;
            if (m.at(row + r).at(col + c) != (ring || centre)) return false;
        }
    }
    return true;
}

class CliTest : public ::testing::Test {
  protected:
    // Runs portcullis with --state-dir and the operator's SUDO_USER.
    ProcessResult cli(std::vector<std::string> args, ProcessOptions options = {}) {
        args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", state_.string()});
        options.env.emplace("SUDO_USER", kOperator);
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        return runProcess(args, options);
    }
    json cliJson(std::vector<std::string> args) {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, 0) << r.err;
        return json::parse(r.out, nullptr, false);
    }
    void init() {
        const auto r = cli({"init"});
        ASSERT_EQ(r.exitCode, 0) << r.err;
    }
    void addUser(const std::string& name) {
        const auto r = cli({"user", "add", name});
        ASSERT_EQ(r.exitCode, 0) << r.err;
    }
    // A target whose host key is a freshly generated one.
    void addTarget(const std::string& name) {
        const fs::path key = tmp_.path() / ("hostkey-" + name);
        generateKey(key);
        const std::string line = trim(readFile(key.string() + ".pub"));
        const auto r = cli({"target", "add", name, "--host", "127.0.0.1", "--host-key", line});
        ASSERT_EQ(r.exitCode, 0) << r.err;
    }
    json auditEvents() { return cliJson({"audit", "list", "--limit", "1000"}); }

    TempDir tmp_{"cli-test"};
    fs::path state_ = tmp_.path() / "state";
};

// ---- init -------------------------------------------------------------------

TEST_F(CliTest, InitCreatesPrivateStoreAndKeysAndIsIdempotent) {
    auto r = cli({"init"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(state_.string()));
    EXPECT_THAT(r.out, HasSubstr("portcullis-upstream"));
    EXPECT_THAT(r.out, HasSubstr("authorized_keys"));

    EXPECT_EQ(fileMode(state_), 0700);
    EXPECT_EQ(fileMode(state_ / "portcullis.db"), 0600);
    EXPECT_EQ(fileMode(state_ / "master.key"), 0600);
    EXPECT_EQ(fs::file_size(state_ / "master.key"), 32u);
    for (const char* key : {"host_ed25519", "upstream_ed25519"}) {
        const fs::path priv = state_ / "keys" / key;
        EXPECT_EQ(fileMode(priv), 0600) << key;
        EXPECT_EQ(fileMode(priv.string() + ".pub"), 0644) << key;
        EXPECT_THAT(readFile(priv), HasSubstr("BEGIN OPENSSH PRIVATE KEY")) << key;
        // The private key is a valid OpenSSH key whose public half is the .pub file.
        const auto derived = runProcess({"ssh-keygen", "-y", "-f", priv.string()});
        ASSERT_EQ(derived.exitCode, 0) << derived.err;
        std::istringstream derivedIn(derived.out), pubIn(readFile(priv.string() + ".pub"));
        std::string t1, b1, t2, b2;
        derivedIn >> t1 >> b1;
        pubIn >> t2 >> b2;
        EXPECT_EQ(t1, "ssh-ed25519");
        EXPECT_EQ(t1 + b1, t2 + b2) << key;
    }
    const std::string upstreamPub = trim(readFile(state_ / "keys" / "upstream_ed25519.pub"));
    EXPECT_THAT(upstreamPub, StartsWith("ssh-ed25519 AAAA"));
    EXPECT_THAT(r.out, HasSubstr(upstreamPub));

    const std::string hostKeyBefore = readFile(state_ / "keys" / "host_ed25519");
    const std::string masterBefore = readFile(state_ / "master.key");
    const auto events = auditEvents();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["type"], "admin.init");
    EXPECT_EQ(events[0]["actor"], kOperator);

    // Second run: nothing created, nothing changed, nothing audited.
    r = cli({"init", "--json"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["state_dir"], state_.string());
    EXPECT_EQ(out["upstream_public_key"], upstreamPub);
    EXPECT_THAT(out["host_key_fingerprint"].get<std::string>(), StartsWith("SHA256:"));
    EXPECT_EQ(out["host_key_fingerprint"], keygenFingerprint(state_ / "keys" / "host_ed25519.pub"));
    EXPECT_TRUE(out["created"].empty());
    EXPECT_EQ(readFile(state_ / "keys" / "host_ed25519"), hostKeyBefore);
    EXPECT_EQ(readFile(state_ / "master.key"), masterBefore);
    EXPECT_EQ(auditEvents().size(), 1u);
}

TEST_F(CliTest, InitRestoresAMissingPublicKeyFile) {
    init();
    const std::string before = readFile(state_ / "keys" / "upstream_ed25519.pub");
    fs::remove(state_ / "keys" / "upstream_ed25519.pub");
    const auto out = cliJson({"init"});
    EXPECT_EQ(out["created"], json::array({"keys/upstream_ed25519.pub"}));
    EXPECT_EQ(readFile(state_ / "keys" / "upstream_ed25519.pub"), before);
}

// ---- help and usage ---------------------------------------------------------

TEST_F(CliTest, HelpAtEveryLevelExitsZero) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"--help"},
                                                                  {"-h"},
                                                                  {"user", "--help"},
                                                                  {"user", "key", "--help"},
                                                                  {"user", "key", "add", "--help"},
                                                                  {"user", "totp", "enroll", "-h"},
                                                                  {"--help", "group"},
                                                                  {"target", "add", "--help"},
                                                                  {"grant", "--help"},
                                                                  {"policy", "check", "--help"},
                                                                  {"audit", "tail", "--help"},
                                                                  {"init", "--help"},
                                                                  {"session", "--help"}}) {
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, 0) << args.front() << " " << args.back() << ": " << r.err;
        EXPECT_THAT(r.out, HasSubstr("portcullis")) << args.back();
    }
    EXPECT_THAT(cli({"user", "key", "add", "--help"}).out, HasSubstr("--file"));
    EXPECT_THAT(cli({"--help"}).out, AllOf(HasSubstr("policy check"), HasSubstr("--state-dir")));
    // --help needs no store.
    EXPECT_FALSE(fs::exists(state_));
}

TEST_F(CliTest, UsageErrorsExitTwoWithOneLine) {
    for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                  {"frobnicate"},
                                                                  {"user"},
                                                                  {"user", "frob"},
                                                                  {"user", "add"},
                                                                  {"user", "add", "a", "b"},
                                                                  {"user", "list", "--bogus"},
                                                                  {"--bogus", "user", "list"},
                                                                  {"user", "add", "bad name"},
                                                                  {"--state-dir"}}) {
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, 2) << (args.empty() ? "(none)" : args.back()) << ": " << r.err;
    }
    const auto r = cli({"frobnicate"});
    EXPECT_THAT(r.err, StartsWith("portcullis: "));
    EXPECT_THAT(r.err, HasSubstr("--help"));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(CliTest, GlobalFlagsAnywhereAndFromEnvironment) {
    init();
    addUser("alice");
    auto r =
        runProcess({PORTCULLIS_CLI, "user", "--json", "list", "--state-dir=" + state_.string()});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)[0]["name"], "alice");
    ProcessOptions env;
    env.env["PORTCULLIS_STATE_DIR"] = state_.string();
    r = runProcess({PORTCULLIS_CLI, "--json", "user", "list"}, env);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)[0]["name"], "alice");
}

TEST_F(CliTest, RecordingCommandsSayWhenThereIsNoSuchSession) {
    init();
    const auto r = cli({"session", "play", "0123"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, HasSubstr("no session 0123"));
}

// ---- users ------------------------------------------------------------------

TEST_F(CliTest, UserLifecycle) {
    init();
    auto r = cli(
        {"user", "add", "alice", "--full-name", "Alice Example", "--email", "alice@example.org"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    r = cli({"user", "add", "alice"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, AllOf(StartsWith("portcullis: "), HasSubstr("already exists")));

    const json list = cliJson({"user", "list"});
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["name"], "alice");
    EXPECT_EQ(list[0]["full_name"], "Alice Example");
    EXPECT_EQ(list[0]["email"], "alice@example.org");
    EXPECT_EQ(list[0]["enabled"], true);

    EXPECT_THAT(cli({"user", "list"}).out, AllOf(HasSubstr("NAME"), HasSubstr("alice")));

    json show = cliJson({"user", "show", "alice"});
    EXPECT_EQ(show["enabled"], true);
    EXPECT_EQ(show["locked"], false);
    EXPECT_EQ(show["totp_enrolled"], false);
    EXPECT_EQ(show["recovery_codes_left"], 0);
    EXPECT_TRUE(show["keys"].is_array());
    EXPECT_TRUE(show["groups"].is_array());
    EXPECT_THAT(show["created_at"].get<std::string>(), HasSubstr("T"));

    ASSERT_EQ(cli({"user", "disable", "alice"}).exitCode, 0);
    EXPECT_EQ(cliJson({"user", "show", "alice"})["enabled"], false);
    ASSERT_EQ(cli({"user", "enable", "alice"}).exitCode, 0);
    EXPECT_EQ(cliJson({"user", "show", "alice"})["enabled"], true);
    EXPECT_EQ(cli({"user", "unlock", "alice"}).exitCode, 0);

    r = cli({"user", "show", "bob"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, AllOf(StartsWith("portcullis: "), HasSubstr("bob")));
    EXPECT_EQ(cli({"user", "disable", "bob"}).exitCode, 1);

    ASSERT_EQ(cli({"user", "remove", "alice"}).exitCode, 0);
    EXPECT_TRUE(cliJson({"user", "list"}).empty());

    std::vector<std::string> types;
    for (const auto& e : auditEvents()) types.push_back(e["type"]);
    EXPECT_THAT(types, ::testing::ElementsAre("admin.init", "admin.user.add", "admin.user.disable",
                                              "admin.user.enable", "admin.user.unlock",
                                              "admin.user.remove"));
}

// ---- keys -------------------------------------------------------------------

TEST_F(CliTest, KeyAddPrintsTheSshKeygenFingerprint) {
    init();
    addUser("alice");
    const fs::path key = tmp_.path() / "alice_ed25519";
    generateKey(key, "alice@laptop");
    const std::string expected = keygenFingerprint(key.string() + ".pub");
    ASSERT_THAT(expected, StartsWith("SHA256:"));

    auto r = cli({"user", "key", "add", "alice", "--file", key.string() + ".pub"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(expected));

    // From stdin, with comment and blank lines around it.
    const fs::path key2 = tmp_.path() / "alice2";
    generateKey(key2);
    ProcessOptions in;
    in.input = "# my second key\n\n" + readFile(key2.string() + ".pub") + "\n";
    r = cli({"user", "key", "add", "alice", "-"}, in);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(keygenFingerprint(key2.string() + ".pub")));

    // The same key twice is refused.
    EXPECT_EQ(cli({"user", "key", "add", "alice", "--file", key.string() + ".pub"}).exitCode, 1);

    json keys = cliJson({"user", "key", "list", "alice"});
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys[0]["fingerprint"], expected);
    EXPECT_EQ(keys[0]["type"], "ssh-ed25519");
    EXPECT_EQ(keys[0]["comment"], "alice@laptop");
    EXPECT_EQ(cliJson({"user", "show", "alice"})["keys"].size(), 2u);

    bool audited = false;
    for (const auto& e : auditEvents()) {
        if (e["type"] == "admin.user.key.add" && e["details"]["fingerprint"] == expected) {
            audited = true;
            EXPECT_EQ(e["actor"], kOperator);
            EXPECT_EQ(e["details"]["account"], "alice");
        }
    }
    EXPECT_TRUE(audited);

    ASSERT_EQ(cli({"user", "key", "remove", "alice", expected}).exitCode, 0);
    EXPECT_EQ(cliJson({"user", "key", "list", "alice"}).size(), 1u);
    EXPECT_EQ(cli({"user", "key", "remove", "alice", expected}).exitCode, 1);
}

TEST_F(CliTest, MalformedOrAmbiguousKeysAddNothing) {
    init();
    addUser("alice");
    const fs::path key = tmp_.path() / "k";
    generateKey(key);
    const std::string good = readFile(key.string() + ".pub");
    const fs::path other = tmp_.path() / "k2";
    generateKey(other);

    const std::vector<std::pair<std::string, std::string>> inputs = {
        {"garbage", "ssh-ed25519 not-base64!!\n"},
        {"truncated", good.substr(0, 40) + "\n"},
        {"wrong type", "ssh-rsa " + good.substr(good.find(' ') + 1)},
        {"empty", "\n# only a comment\n"},
        {"two keys", good + readFile(other.string() + ".pub")},
        {"private key", readFile(key)},
    };
    for (const auto& [what, content] : inputs) {
        const fs::path file = tmp_.path() / "input.pub";
        writeFile(file, content);
        const auto r = cli({"user", "key", "add", "alice", "--file", file.string()});
        EXPECT_EQ(r.exitCode, 1) << what << ": " << r.out;
        EXPECT_THAT(r.err, StartsWith("portcullis: ")) << what;
    }
    // No key source, both sources, a missing file, an unknown account.
    EXPECT_EQ(cli({"user", "key", "add", "alice"}).exitCode, 2);
    EXPECT_EQ(cli({"user", "key", "add", "alice", "-", "--file", key.string() + ".pub"}).exitCode,
              2);
    EXPECT_EQ(cli({"user", "key", "add", "alice", "--file", "/nonexistent.pub"}).exitCode, 1);
    EXPECT_EQ(cli({"user", "key", "add", "bob", "--file", key.string() + ".pub"}).exitCode, 1);

    EXPECT_TRUE(cliJson({"user", "key", "list", "alice"}).empty());
    for (const auto& e : auditEvents()) EXPECT_NE(e["type"], "admin.user.key.add");
}

// ---- TOTP -------------------------------------------------------------------

TEST_F(CliTest, TotpEnrollShowsSecretOnceAndItVerifies) {
    init();
    addUser("alice");
    auto r = cli({"user", "totp", "enroll", "alice", "--json"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const json out = json::parse(r.out);
    const std::string secret = out["secret"];
    const std::string uri = out["uri"];
    EXPECT_EQ(out["account"], "alice");
    EXPECT_THAT(uri, StartsWith("otpauth://totp/"));
    EXPECT_THAT(uri, HasSubstr("secret=" + secret));
    EXPECT_THAT(uri, HasSubstr("issuer=Portcullis"));
    EXPECT_TRUE(std::regex_match(secret, std::regex("[A-Z2-7]{32}")));
    ASSERT_EQ(out["recovery_codes"].size(), 10u);

    const json show = cliJson({"user", "show", "alice"});
    EXPECT_EQ(show["totp_enrolled"], true);
    EXPECT_EQ(show["recovery_codes_left"], 10);

    // The printed secret is the stored one: oathtool's code passes the guard.
    const auto oath = runProcess({"oathtool", "--totp", "-b", secret});
    ASSERT_EQ(oath.exitCode, 0) << oath.err;
    const std::string code = trim(oath.out);
    ASSERT_EQ(code.size(), 6u);
    {
        const db::StateDir dir(state_);
        auto database = db::Database::open(dir);
        ASSERT_TRUE(database) << database.error();
        auto key = db::MasterKey::load(dir);
        ASSERT_TRUE(key) << key.error();
        db::AuditLog audit(*database, nullptr, false);
        db::OtpGuard guard(*database, *key, audit);
        EXPECT_TRUE(guard.verify("alice", code, "127.0.0.1", db::FirstFactor::proven, systemNow())
                        .accepted());
        const std::string recovery = out["recovery_codes"][3];
        EXPECT_TRUE(
            guard.verify("alice", recovery, "127.0.0.1", db::FirstFactor::proven, systemNow())
                .accepted());
    }

    // No secret, URI or recovery code in the audit chain or audit.log.
    const std::string events = auditEvents().dump();
    const std::string auditLog = readFile(state_ / "audit.log");
    EXPECT_THAT(events, HasSubstr("admin.user.totp.enroll"));
    for (const std::string& haystack : {events, auditLog}) {
        EXPECT_THAT(haystack, Not(HasSubstr(secret)));
        for (const auto& c : out["recovery_codes"]) {
            EXPECT_THAT(haystack, Not(HasSubstr(c.get<std::string>())));
        }
    }

    // Text mode: warning, URI, QR code drawn with half blocks, 10 codes; custom issuer.
    // Enrolling again needs --force (issue 13; cli_totp_qr_test.cpp).
    r = cli({"user", "totp", "enroll", "alice", "--issuer", "ACME Vault", "--force"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_THAT(r.out, AllOf(HasSubstr("only once"), HasSubstr("otpauth://totp/"),
                             HasSubstr("\u2588"), HasSubstr("\u2580")));
    const std::regex codeLine("  [a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}");
    int codeLines = 0;
    std::istringstream text(r.out);
    for (std::string line; std::getline(text, line);) codeLines += std::regex_match(line, codeLine);
    EXPECT_EQ(codeLines, 10) << r.out;
    // The drawing is a QR code: square, a 2-module light quiet zone (issue 13:
    // it fits 24 rows; cli_totp_qr_test.cpp decodes it), three finder patterns.
    const auto qr = readTerminalQr(r.out);
    ASSERT_GE(qr.size(), 30u) << r.out;
    const std::size_t n = qr.front().size();
    ASSERT_EQ(qr.size(), n + 1);  // the last half row is padding
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t q = 0; q < 2; ++q) {
            EXPECT_FALSE(qr[q][i] || qr[n - 1 - q][i] || qr[i][q] || qr[i][n - 1 - q]);
        }
    }
    EXPECT_TRUE(finderAt(qr, 2, 2));
    EXPECT_TRUE(finderAt(qr, 2, n - 9));
    EXPECT_TRUE(finderAt(qr, n - 9, 2));
    EXPECT_FALSE(finderAt(qr, n - 9, n - 9));

    ASSERT_EQ(cli({"user", "totp", "reset", "alice"}).exitCode, 0);
    EXPECT_EQ(cliJson({"user", "show", "alice"})["totp_enrolled"], false);
    EXPECT_EQ(cli({"user", "totp", "enroll", "nobody"}).exitCode, 1);
}

TEST_F(CliTest, TotpEnrollRefusesAnOpenMasterKey) {
    init();
    addUser("alice");
    ::chmod((state_ / "master.key").c_str(), 0644);
    auto r = cli({"user", "totp", "enroll", "alice"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, HasSubstr("master"));
    ::chmod((state_ / "master.key").c_str(), 0600);
    writeFile(state_ / "master.key", "short", 0600);
    r = cli({"user", "totp", "enroll", "alice"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(cliJson({"user", "show", "alice"})["totp_enrolled"], false);
}

// ---- groups, targets, grants, policy -----------------------------------------

TEST_F(CliTest, GroupsAndMembers) {
    init();
    addUser("alice");
    ASSERT_EQ(cli({"group", "add", "oncall"}).exitCode, 0);
    EXPECT_EQ(cli({"group", "add", "oncall"}).exitCode, 1);
    ASSERT_EQ(cli({"group", "add-member", "oncall", "alice"}).exitCode, 0);
    EXPECT_EQ(cli({"group", "add-member", "oncall", "bob"}).exitCode, 1);
    EXPECT_EQ(cli({"group", "add-member", "nogroup", "alice"}).exitCode, 1);
    json groups = cliJson({"group", "list"});
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0]["name"], "oncall");
    EXPECT_EQ(groups[0]["members"], json::array({"alice"}));
    EXPECT_EQ(cliJson({"user", "show", "alice"})["groups"], json::array({"oncall"}));
    ASSERT_EQ(cli({"group", "remove-member", "oncall", "alice"}).exitCode, 0);
    ASSERT_EQ(cli({"group", "remove", "oncall"}).exitCode, 0);
    EXPECT_TRUE(cliJson({"group", "list"}).empty());
}

TEST_F(CliTest, TargetsPinTheirHostKey) {
    init();
    const fs::path key = tmp_.path() / "host";
    generateKey(key);
    const std::string line = trim(readFile(key.string() + ".pub"));
    auto r = cli({"target", "add", "cosigner-1", "--host", "10.0.0.5", "--port", "2022",
                  "--host-key", line});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const std::string fingerprint = keygenFingerprint(key.string() + ".pub");
    EXPECT_THAT(r.out, HasSubstr(fingerprint));

    json t = cliJson({"target", "show", "cosigner-1"});
    EXPECT_EQ(t["host"], "10.0.0.5");
    EXPECT_EQ(t["port"], 2022);
    EXPECT_EQ(t["default_login"], "root");
    EXPECT_EQ(t["host_key_fingerprint"], fingerprint);
    EXPECT_EQ(cliJson({"target", "list"}).size(), 1u);

    // Duplicates, malformed keys and bad values change nothing.
    EXPECT_EQ(cli({"target", "add", "cosigner-1", "--host", "h", "--host-key", line}).exitCode, 1);
    // A malformed --host-key is a usage error like any bad flag value (issue 13).
    EXPECT_EQ(
        cli({"target", "add", "t2", "--host", "h", "--host-key", "ssh-ed25519 AAAAbad"}).exitCode,
        2);
    EXPECT_EQ(
        cli({"target", "add", "t2", "--host", "h", "--port", "70000", "--host-key", line}).exitCode,
        2);
    EXPECT_EQ(cli({"target", "add", "t2", "--host", "h"}).exitCode, 2);
    EXPECT_EQ(cli({"target", "add", "t2", "--host-key", line}).exitCode, 2);
    EXPECT_EQ(cli({"target", "add", "t2", "--host", "h", "--scan", "--host-key", line}).exitCode,
              2);
    EXPECT_EQ(cliJson({"target", "list"}).size(), 1u);

    bool audited = false;
    for (const auto& e : auditEvents()) {
        if (e["type"] == "admin.target.add") {
            audited = true;
            EXPECT_EQ(e["details"]["host_key_fingerprint"], fingerprint);
        }
    }
    EXPECT_TRUE(audited);

    ASSERT_EQ(cli({"target", "remove", "cosigner-1"}).exitCode, 0);
    EXPECT_EQ(cli({"target", "show", "cosigner-1"}).exitCode, 1);
}

TEST_F(CliTest, GrantPolicyCheckAndRevoke) {
    init();
    addUser("alice");
    addUser("bob");
    addTarget("cosigner-1");
    ASSERT_EQ(cli({"group", "add", "oncall"}).exitCode, 0);
    ASSERT_EQ(cli({"group", "add-member", "oncall", "alice"}).exitCode, 0);

    auto r = cli({"grant", "@oncall", "cosigner-*", "--logins", "root,deploy", "--allow",
                  "shell,exec,sftp", "--max-session", "2h", "--idle-timeout", "10m", "--reason",
                  "CHG-1234"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("#1"));
    const json grants = cliJson({"policy", "list"});
    ASSERT_EQ(grants.size(), 1u);
    EXPECT_EQ(grants[0]["id"], 1);
    EXPECT_EQ(grants[0]["subject"], "@oncall");
    EXPECT_EQ(grants[0]["target"], "cosigner-*");
    EXPECT_EQ(grants[0]["max_session_s"], 7200);
    EXPECT_EQ(grants[0]["idle_timeout_s"], 600);
    EXPECT_EQ(grants[0]["created_by"], kOperator);

    r = cli({"policy", "check", "alice", "root@cosigner-1"});
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_THAT(
        r.out, AllOf(StartsWith("allowed: alice as root@cosigner-1 (shell)"), HasSubstr("grant #1"),
                     HasSubstr("max session 2h"), HasSubstr("idle timeout 10m")));

    r = cli({"policy", "check", "alice", "root@cosigner-1", "--channel", "sftp", "--json"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    json decision = json::parse(r.out);
    EXPECT_EQ(decision["allowed"], true);
    EXPECT_EQ(decision["grant_id"], 1);
    EXPECT_EQ(decision["login"], "root");
    EXPECT_EQ(decision["max_session_s"], 7200);
    EXPECT_EQ(decision["idle_timeout_s"], 600);

    // Denials: each with its reasons, exit 1.
    r = cli({"policy", "check", "alice", "postgres@cosigner-1"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.out, StartsWith("denied: alice as postgres@cosigner-1"));
    EXPECT_GE(std::count(r.out.begin(), r.out.end(), '\n'), 2);
    r = cli({"policy", "check", "alice", "root@cosigner-1", "--channel", "forward", "--json"});
    EXPECT_EQ(r.exitCode, 1);
    decision = json::parse(r.out);
    EXPECT_EQ(decision["allowed"], false);
    EXPECT_FALSE(decision["reasons"].empty());
    EXPECT_EQ(cli({"policy", "check", "bob", "root@cosigner-1"}).exitCode, 1);
    EXPECT_EQ(cli({"policy", "check", "nobody", "cosigner-1"}).exitCode, 1);

    // Bare TARGET: the target's default login (root), granted.
    EXPECT_EQ(cli({"policy", "check", "alice", "cosigner-1"}).exitCode, 0);

    // A window outside --at denies; inside allows.
    r = cli(
        {"grant", "bob", "cosigner-1", "--window", "Mon-Fri 08:00-18:00 UTC", "--expires", "30d"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(
        cli({"policy", "check", "bob", "cosigner-1", "--at", "2030-01-07T09:00:00Z"}).exitCode, 1)
        << "past expiry";
    EXPECT_EQ(cli({"policy", "check", "bob", "cosigner-1", "--at", nextWeekdayAt(10)}).exitCode, 0);
    EXPECT_EQ(cli({"policy", "check", "bob", "cosigner-1", "--at", nextWeekdayAt(19)}).exitCode, 1);
    EXPECT_EQ(
        cli({"policy", "check", "bob", "cosigner-1", "--at", "2020-01-04T09:00:00Z"}).exitCode, 1)
        << "Saturday";

    ASSERT_EQ(cli({"revoke", "1"}).exitCode, 0);
    r = cli({"policy", "check", "alice", "root@cosigner-1"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(cli({"revoke", "99"}).exitCode, 1);
    EXPECT_EQ(cli({"revoke", "abc"}).exitCode, 2);
    EXPECT_EQ(cliJson({"policy", "list"}).size(), 1u);
    EXPECT_EQ(cliJson({"policy", "list", "--all"}).size(), 2u);

    bool added = false, revoked = false;
    for (const auto& e : auditEvents()) {
        if (e["type"] == "admin.grant.add" && e["details"]["grant_id"] == 1) {
            added = true;
            EXPECT_EQ(e["details"]["reason"], "CHG-1234");
        }
        if (e["type"] == "admin.grant.revoke" && e["details"]["grant_id"] == 1) revoked = true;
    }
    EXPECT_TRUE(added);
    EXPECT_TRUE(revoked);
}

TEST_F(CliTest, BadGrantValuesAreUsageErrorsAndAddNothing) {
    init();
    addUser("alice");
    addTarget("cosigner-1");
    for (const auto& extra :
         std::vector<std::vector<std::string>>{{"--max-session", "5x"},
                                               {"--max-session", "0s"},
                                               {"--idle-timeout", "soon"},
                                               {"--window", "Mon-Fri 25:00-18:00"},
                                               {"--window", "Someday"},
                                               {"--window", "Mon-Fri 08:00-18:00 Mars/Olympus"},
                                               {"--expires", "yesterday"},
                                               {"--expires", "2001-01-01T00:00:00Z"},
                                               {"--allow", "shell,ftp"},
                                               {"--logins", "root,,x"},
                                               {"--bogus", "1"}}) {
        std::vector<std::string> args = {"grant", "alice", "cosigner-1"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, 2) << extra.front() << " " << extra.back() << ": " << r.err;
        EXPECT_THAT(r.err, StartsWith("portcullis: ")) << extra.front();
    }
    EXPECT_EQ(cli({"grant", "nobody", "cosigner-1"}).exitCode, 1);
    EXPECT_EQ(cli({"grant", "@nogroup", "cosigner-1"}).exitCode, 1);
    EXPECT_EQ(cli({"policy", "check", "alice", "cosigner-1", "--at", "noon"}).exitCode, 2);
    EXPECT_EQ(cli({"policy", "check", "alice", "cosigner-1", "--channel", "x11"}).exitCode, 2);
    EXPECT_TRUE(cliJson({"policy", "list", "--all"}).empty());
}

// ---- refusing a bad store ----------------------------------------------------

TEST_F(CliTest, MissingStoreSaysRunInit) {
    const auto r = cli({"user", "list"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, AllOf(StartsWith("portcullis: "), HasSubstr("portcullis init")));
    EXPECT_FALSE(fs::exists(state_ / "portcullis.db"));
}

TEST_F(CliTest, WorldReadableDatabaseIsRefused) {
    init();
    ::chmod((state_ / "portcullis.db").c_str(), 0644);
    auto r = cli({"user", "add", "alice"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, HasSubstr("chmod"));
    EXPECT_EQ(cli({"init"}).exitCode, 1);
    ::chmod((state_ / "portcullis.db").c_str(), 0600);
    EXPECT_TRUE(cliJson({"user", "list"}).empty());
}

TEST_F(CliTest, ForeignOrDamagedDatabaseIsRefused) {
    ASSERT_TRUE(fs::create_directories(state_));
    ::chmod(state_.c_str(), 0700);
    const fs::path dbFile = state_ / "portcullis.db";
    ASSERT_EQ(runProcess({"sqlite3", dbFile.string(),
                          "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);"})
                  .exitCode,
              0);
    ::chmod(dbFile.c_str(), 0600);
    EXPECT_EQ(cli({"user", "list"}).exitCode, 1);
    EXPECT_EQ(cli({"user", "add", "alice"}).exitCode, 1);
    auto r = cli({"init"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, StartsWith("portcullis: "));
    // The foreign file is left as it was.
    EXPECT_EQ(trim(runProcess({"sqlite3", dbFile.string(), "SELECT x FROM notes"}).out), "1");

    writeFile(dbFile, std::string(4096, 'x'), 0600);
    r = cli({"user", "list"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, StartsWith("portcullis: "));
}

// ---- audit ------------------------------------------------------------------

TEST_F(CliTest, AuditListFiltersAndVerifyDetectsAnEditedRow) {
    init();
    addUser("alice");
    addUser("bob");
    ASSERT_EQ(cli({"user", "disable", "bob"}).exitCode, 0);

    json events = cliJson({"audit", "list", "--type", "admin.user.add"});
    ASSERT_EQ(events.size(), 2u);
    for (const auto& e : events) {
        EXPECT_EQ(e["actor"], kOperator);
        EXPECT_THAT(e["ts"].get<std::string>(), HasSubstr("Z"));
        EXPECT_TRUE(e.contains("hash"));
    }
    EXPECT_EQ(cliJson({"audit", "list", "--user", "bob"}).size(), 2u);
    EXPECT_EQ(cliJson({"audit", "list", "--limit", "1"}).size(), 1u);
    EXPECT_EQ(cliJson({"audit", "list", "--since", "1h"}).size(), 4u);
    EXPECT_EQ(cliJson({"audit", "list", "--since", "2999-01-01T00:00:00Z"}).size(), 0u);
    EXPECT_EQ(cli({"audit", "list", "--since", "whenever"}).exitCode, 2);
    EXPECT_EQ(cli({"audit", "list", "--limit", "0"}).exitCode, 2);
    EXPECT_THAT(cli({"audit", "list"}).out,
                AllOf(HasSubstr("admin.user.disable"), HasSubstr(kOperator)));

    auto r = cli({"audit", "verify"});
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_EQ(cliJson({"audit", "verify"})["ok"], true);

    ASSERT_EQ(runProcess({"sqlite3", (state_ / "portcullis.db").string(),
                          "UPDATE audit_events SET actor = 'mallory' WHERE id = 2;"})
                  .exitCode,
              0);
    r = cli({"audit", "verify"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.out, HasSubstr("2"));
    EXPECT_THAT(r.err, StartsWith("portcullis: "));
    r = cli({"audit", "verify", "--json"});
    EXPECT_EQ(r.exitCode, 1);
    const json report = json::parse(r.out);
    EXPECT_EQ(report["ok"], false);
    EXPECT_FALSE(report["problems"].empty());
}

TEST_F(CliTest, AuditTailPrintsRecentEventsThenFollows) {
    init();
    addUser("alice");
    ProcessResult tail;
    std::thread follower([&] {
        ProcessOptions options;
        options.timeout = std::chrono::milliseconds(6000);
        tail = cli({"audit", "tail", "--json"}, options);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    addUser("late-bob");
    follower.join();
    EXPECT_TRUE(tail.timedOut);
    std::vector<json> lines;
    std::istringstream in(tail.out);
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    ASSERT_GE(lines.size(), 3u) << tail.out << tail.err;
    EXPECT_EQ(lines[0]["type"], "admin.init");
    EXPECT_EQ(lines.back()["type"], "admin.user.add");
    EXPECT_EQ(lines.back()["details"]["account"], "late-bob");
}

// ---- host key scan against a real sshd ---------------------------------------

TEST_F(CliTest, TargetScanPinsTheServersKeyOnlyWhenConfirmed) {
    if (!fs::exists("/usr/sbin/sshd")) GTEST_SKIP() << "no sshd";
    if (::geteuid() != 0) GTEST_SKIP() << "sshd needs root here";
    init();
    SshdFixture sshd("");
    const int port = sshd.port();
    const fs::path hostKeyPub = tmp_.path() / "target_host_key.pub";
    writeFile(hostKeyPub, sshd.hostKeyLine() + "\n", 0644);
    const std::string fingerprint = keygenFingerprint(hostKeyPub.string());
    // No terminal and no --yes: shown, refused, nothing added.
    ProcessOptions noTty;
    noTty.newSession = true;
    auto r = cli({"target", "add", "scanned", "--host", "127.0.0.1", "--port", std::to_string(port),
                  "--scan"},
                 noTty);
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.out, HasSubstr(fingerprint));
    EXPECT_THAT(r.err, HasSubstr("--yes"));
    EXPECT_EQ(cli({"target", "show", "scanned"}).exitCode, 1);

    r = cli({"target", "add", "scanned", "--host", "127.0.0.1", "--port", std::to_string(port),
             "--scan", "--yes"},
            noTty);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(cliJson({"target", "show", "scanned"})["host_key_fingerprint"], fingerprint);
}

TEST_F(CliTest, TargetScanOfAClosedPortFails) {
    init();
    const int port = freeLoopbackPort();
    const auto r = cli({"target", "add", "t", "--host", "127.0.0.1", "--port", std::to_string(port),
                        "--scan", "--yes"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, StartsWith("portcullis: "));
    EXPECT_EQ(cli({"target", "show", "t"}).exitCode, 1);
}

}  // namespace
}  // namespace portcullis::test
