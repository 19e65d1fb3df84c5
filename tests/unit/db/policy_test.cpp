// Policy decisions: evaluate() on hand-built inputs (pure), then decide() and
// reachableTargets() against a real store.
#include "db/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "db/groups.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TimePoint at(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
    using namespace std::chrono;
    return TimePoint{sys_days{year{y} / month{m} / day{d}}} + hours{hh} + minutes{mm} + seconds{ss};
}

// 2026-11-25 is a Wednesday.
const TimePoint kWed10 = at(2026, 11, 25, 10);

Account account(const std::string& name) {
    Account a;
    a.id = 1;
    a.name = name;
    a.enabled = true;
    return a;
}

Target target(const std::string& name, const std::string& defaultLogin = "deploy") {
    Target t;
    t.id = 1;
    t.name = name;
    t.host = "10.0.0.1";
    t.defaultLogin = defaultLogin;
    return t;
}

Grant grant(std::int64_t id, const std::string& subject, const std::string& pattern) {
    Grant g;
    g.id = id;
    g.subject = subject;
    g.targetPattern = pattern;
    g.createdBy = "root";
    return g;
}

class PolicyEvaluateTest : public ::testing::Test {
  protected:
    PolicyEvaluateTest() {
        inputs_.account = account("alice");
        inputs_.target = target("cosigner-1");
        inputs_.accountGroups = {"oncall"};
    }

    AccessRequest request(TimePoint when = kWed10, Channel channel = Channel::shell,
                          const std::string& login = "") const {
        return AccessRequest{"alice", login, "cosigner-1", channel, when};
    }
    Decision decide(const AccessRequest& r, const LimitCeiling& ceiling = {}) const {
        return evaluate(inputs_, r, ceiling);
    }
    Decision decide() const { return decide(request()); }

    // Only the window matters: a grant for alice on cosigner-1 with this window.
    bool allowedAt(const std::string& window, TimePoint when) {
        inputs_.grants = {grant(1, "alice", "cosigner-1")};
        inputs_.grants[0].window = window;
        const auto d = decide(request(when));
        if (!d.allowed) {
            EXPECT_THAT(d.reasons, ElementsAre("grant #1: outside window " + window));
        }
        return d.allowed;
    }

    PolicyInputs inputs_;
};

TEST_F(PolicyEvaluateTest, DenyByDefault) {
    const auto d = decide();
    EXPECT_FALSE(d.allowed);
    EXPECT_FALSE(d.grantId);
    EXPECT_THAT(d.reasons, ElementsAre("no grant for alice on cosigner-1"));
}

TEST_F(PolicyEvaluateTest, AllowedByAccountGrant) {
    inputs_.grants = {grant(7, "alice", "cosigner-1")};
    const auto d = decide();
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.grantId, 7);
    EXPECT_EQ(d.login, "deploy");
    EXPECT_EQ(d.maxSession, kDefaultMaxSession);
    EXPECT_EQ(d.idleTimeout, kDefaultIdleTimeout);
    EXPECT_FALSE(d.endsBy);
    EXPECT_THAT(d.reasons, IsEmpty());
}

TEST_F(PolicyEvaluateTest, SubjectsAccountOrGroup) {
    inputs_.grants = {grant(1, "@oncall", "cosigner-1")};
    EXPECT_TRUE(decide().allowed);

    inputs_.grants = {grant(1, "@dba", "cosigner-1"), grant(2, "bob", "cosigner-1"),
                      grant(3, "@alice", "cosigner-1"), grant(4, "oncall", "cosigner-1")};
    const auto d = decide();
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("no grant for alice on cosigner-1"));
}

TEST_F(PolicyEvaluateTest, GlobTargets) {
    inputs_.grants = {grant(1, "alice", "cosigner-*")};
    EXPECT_TRUE(decide().allowed);
    inputs_.grants = {grant(1, "alice", "cosigner-[0-9]")};
    EXPECT_TRUE(decide().allowed);
    inputs_.grants = {grant(1, "alice", "cosigner-[!1]")};
    EXPECT_FALSE(decide().allowed);
    inputs_.grants = {grant(1, "alice", "db-*"), grant(2, "alice", "cosigner-1?")};
    const auto d = decide();
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("no grant for alice on cosigner-1"));
}

TEST_F(PolicyEvaluateTest, DefaultLoginWhenGrantListsNone) {
    inputs_.grants = {grant(3, "alice", "cosigner-1")};
    auto d = decide(request(kWed10, Channel::shell, ""));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.login, "deploy");
    d = decide(request(kWed10, Channel::shell, "deploy"));
    EXPECT_TRUE(d.allowed);
    d = decide(request(kWed10, Channel::shell, "root"));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.login, "root");
    EXPECT_THAT(d.reasons, ElementsAre("grant #3: login root not in [deploy]"));
}

TEST_F(PolicyEvaluateTest, ExplicitLogins) {
    inputs_.grants = {grant(3, "alice", "cosigner-1")};
    inputs_.grants[0].logins = {"root", "backup"};
    EXPECT_TRUE(decide(request(kWed10, Channel::shell, "root")).allowed);
    EXPECT_TRUE(decide(request(kWed10, Channel::shell, "backup")).allowed);
    // Explicit logins replace the default one.
    auto d = decide(request(kWed10, Channel::shell, "deploy"));
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("grant #3: login deploy not in [root, backup]"));
    d = decide(request(kWed10, Channel::shell, ""));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.login, "deploy");
    // Listing the default login explicitly keeps it.
    inputs_.grants[0].logins = {"root", "deploy"};
    EXPECT_TRUE(decide(request(kWed10, Channel::shell, "")).allowed);
}

TEST_F(PolicyEvaluateTest, EachChannel) {
    inputs_.grants = {grant(3, "alice", "cosigner-1")};  // default: shell, exec
    EXPECT_TRUE(decide(request(kWed10, Channel::shell)).allowed);
    EXPECT_TRUE(decide(request(kWed10, Channel::exec)).allowed);
    auto d = decide(request(kWed10, Channel::sftp));
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("grant #3: channel sftp not allowed (allows shell, exec)"));
    d = decide(request(kWed10, Channel::forward));
    EXPECT_THAT(d.reasons,
                ElementsAre("grant #3: channel forward not allowed (allows shell, exec)"));

    inputs_.grants[0].channels = {Channel::sftp};
    EXPECT_TRUE(decide(request(kWed10, Channel::sftp)).allowed);
    d = decide(request(kWed10, Channel::shell));
    EXPECT_THAT(d.reasons, ElementsAre("grant #3: channel shell not allowed (allows sftp)"));
    EXPECT_FALSE(decide(request(kWed10, Channel::exec)).allowed);
    EXPECT_FALSE(decide(request(kWed10, Channel::forward)).allowed);

    inputs_.grants[0].channels = {Channel::forward};
    EXPECT_TRUE(decide(request(kWed10, Channel::forward)).allowed);
    EXPECT_FALSE(decide(request(kWed10, Channel::sftp)).allowed);
}

TEST_F(PolicyEvaluateTest, WindowEdgesStartInclusiveEndExclusive) {
    const std::string w = "Mon-Fri 08:00-18:00 UTC";
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 25, 7, 59, 59)));
    EXPECT_TRUE(allowedAt(w, at(2026, 11, 25, 8, 0, 0)));
    EXPECT_TRUE(allowedAt(w, at(2026, 11, 25, 17, 59, 59)));
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 25, 18, 0, 0)));
    EXPECT_TRUE(allowedAt(w, at(2026, 11, 27, 12)));   // Friday
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 28, 12)));  // Saturday
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 29, 12)));  // Sunday
    EXPECT_TRUE(allowedAt(w, at(2026, 11, 30, 8)));    // Monday
}

TEST_F(PolicyEvaluateTest, WindowCrossingMidnightBelongsToItsStartDay) {
    const std::string w = "Fri 22:00-06:00 UTC";
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 27, 21, 59, 59)));  // Fri before
    EXPECT_TRUE(allowedAt(w, at(2026, 11, 27, 22, 0, 0)));     // Fri start
    EXPECT_TRUE(allowedAt(w, at(2026, 11, 28, 0, 0, 0)));      // Sat midnight
    EXPECT_TRUE(allowedAt(w, at(2026, 11, 28, 5, 59, 59)));    // Sat early
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 28, 6, 0, 0)));     // Sat end (exclusive)
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 28, 23, 0, 0)));    // Sat night: not Friday's
    EXPECT_FALSE(allowedAt(w, at(2026, 11, 27, 3, 0, 0)));     // Fri early: Thursday's window
}

TEST_F(PolicyEvaluateTest, WindowInEuropeParisFollowsDstSpring) {
    // 2026-03-29 (Sunday): 02:00 CET becomes 03:00 CEST (01:00 UTC).
    const std::string w = "Sat-Sun 08:00-18:00 Europe/Paris";
    EXPECT_FALSE(allowedAt(w, at(2026, 3, 28, 6, 59, 59)));  // Sat 07:59:59 CET
    EXPECT_TRUE(allowedAt(w, at(2026, 3, 28, 7, 0, 0)));     // Sat 08:00 CET
    EXPECT_TRUE(allowedAt(w, at(2026, 3, 28, 16, 59, 59)));  // Sat 17:59:59 CET
    EXPECT_FALSE(allowedAt(w, at(2026, 3, 28, 17, 0, 0)));   // Sat 18:00 CET
    EXPECT_FALSE(allowedAt(w, at(2026, 3, 29, 5, 59, 59)));  // Sun 07:59:59 CEST
    EXPECT_TRUE(allowedAt(w, at(2026, 3, 29, 6, 0, 0)));     // Sun 08:00 CEST
    EXPECT_TRUE(allowedAt(w, at(2026, 3, 29, 15, 59, 59)));  // Sun 17:59:59 CEST
    EXPECT_FALSE(allowedAt(w, at(2026, 3, 29, 16, 0, 0)));   // Sun 18:00 CEST
}

TEST_F(PolicyEvaluateTest, WindowInEuropeParisSkippedHourNeverMatches) {
    // 02:00-03:00 local does not exist on 2026-03-29.
    const std::string w = "Sun 02:00-03:00 Europe/Paris";
    EXPECT_FALSE(allowedAt(w, at(2026, 3, 29, 0, 59, 59)));  // 01:59:59 CET
    EXPECT_FALSE(allowedAt(w, at(2026, 3, 29, 1, 0, 0)));    // 03:00:00 CEST
    EXPECT_TRUE(allowedAt(w, at(2026, 3, 22, 1, 30, 0)));    // a week earlier: 02:30 CET
}

TEST_F(PolicyEvaluateTest, WindowInEuropeParisFollowsDstAutumn) {
    // 2026-10-25 (Sunday): 03:00 CEST becomes 02:00 CET (01:00 UTC); the hour
    // 02:00-03:00 local happens twice, and both are inside.
    const std::string w = "Sun 02:00-03:00 Europe/Paris";
    EXPECT_FALSE(allowedAt(w, at(2026, 10, 24, 23, 59, 59)));  // 01:59:59 CEST
    EXPECT_TRUE(allowedAt(w, at(2026, 10, 25, 0, 0, 0)));      // 02:00 CEST
    EXPECT_TRUE(allowedAt(w, at(2026, 10, 25, 0, 59, 59)));    // 02:59:59 CEST
    EXPECT_TRUE(allowedAt(w, at(2026, 10, 25, 1, 0, 0)));      // 02:00 CET
    EXPECT_TRUE(allowedAt(w, at(2026, 10, 25, 1, 59, 59)));    // 02:59:59 CET
    EXPECT_FALSE(allowedAt(w, at(2026, 10, 25, 2, 0, 0)));     // 03:00 CET

    const std::string day = "Sat-Sun 08:00-18:00 Europe/Paris";
    EXPECT_TRUE(allowedAt(day, at(2026, 10, 24, 6, 0, 0)));   // Sat 08:00 CEST
    EXPECT_FALSE(allowedAt(day, at(2026, 10, 25, 6, 0, 0)));  // Sun 07:00 CET
    EXPECT_TRUE(allowedAt(day, at(2026, 10, 25, 7, 0, 0)));   // Sun 08:00 CET
}

TEST_F(PolicyEvaluateTest, UnreadableWindowFailsClosed) {
    inputs_.grants = {grant(1, "alice", "cosigner-1")};
    inputs_.grants[0].window = "garbage window";
    const auto d = decide();
    EXPECT_FALSE(d.allowed);
    ASSERT_EQ(d.reasons.size(), 1u);
    EXPECT_THAT(d.reasons[0], HasSubstr("grant #1: unreadable window"));
}

TEST_F(PolicyEvaluateTest, ExpiryEdge) {
    const TimePoint expiry = at(2026, 11, 25, 12);
    inputs_.grants = {grant(4, "alice", "cosigner-1")};
    inputs_.grants[0].expiresAt = expiry;
    auto d = decide(request(expiry - 1s));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.endsBy, expiry);
    d = decide(request(expiry));
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("grant #4: expired at 2026-11-25T12:00:00Z"));
}

TEST_F(PolicyEvaluateTest, RevokedGrantDoesNotMatch) {
    inputs_.grants = {grant(5, "alice", "cosigner-1")};
    inputs_.grants[0].revokedAt = at(2026, 11, 25, 9);
    inputs_.grants[0].revokedBy = "root";
    const auto d = decide();
    EXPECT_FALSE(d.allowed);
    ASSERT_EQ(d.reasons.size(), 1u);
    EXPECT_THAT(d.reasons[0], HasSubstr("grant #5: revoked at 2026-11-25T09:00:00Z"));
}

TEST_F(PolicyEvaluateTest, DisabledAccountIsDenied) {
    inputs_.account->enabled = false;
    inputs_.grants = {grant(1, "alice", "cosigner-1")};
    const auto d = decide();
    EXPECT_FALSE(d.allowed);
    EXPECT_FALSE(d.grantId);
    EXPECT_THAT(d.reasons, ElementsAre("account alice is disabled"));
}

TEST_F(PolicyEvaluateTest, LockedAccountIsDeniedUntilTheLockEnds) {
    inputs_.account->lockedUntil = at(2026, 11, 25, 10, 15);
    inputs_.grants = {grant(1, "alice", "cosigner-1")};
    auto d = decide(request(kWed10));
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("account alice is locked until 2026-11-25T10:15:00Z"));
    EXPECT_TRUE(decide(request(at(2026, 11, 25, 10, 15))).allowed);
}

// Issue 12 finding 3: failed codes (possibly typed by a stranger) lock an
// account for new logins but never end its live sessions; a re-check
// (ongoing) ignores locked_until, while disabled, revoked, expired and outside
// the window still deny it.
TEST_F(PolicyEvaluateTest, LockOutDoesNotEndAnOngoingSession) {
    inputs_.account->lockedUntil = at(2026, 11, 25, 10, 15);
    inputs_.grants = {grant(1, "alice", "cosigner-1")};
    AccessRequest live = request(kWed10);
    live.ongoing = true;
    EXPECT_FALSE(decide(request(kWed10)).allowed);  // control: a new login is refused
    const auto d = decide(live);
    EXPECT_TRUE(d.allowed) << ::testing::PrintToString(d.reasons);
    EXPECT_EQ(d.grantId, 1);

    inputs_.account->enabled = false;
    auto denied = decide(live);
    EXPECT_FALSE(denied.allowed);
    EXPECT_THAT(denied.reasons, ElementsAre("account alice is disabled"));
    inputs_.account->enabled = true;

    inputs_.grants[0].revokedAt = at(2026, 11, 25, 9);
    EXPECT_FALSE(decide(live).allowed);
    inputs_.grants[0].revokedAt.reset();

    inputs_.grants[0].expiresAt = at(2026, 11, 25, 9, 30);
    EXPECT_FALSE(decide(live).allowed);
    inputs_.grants[0].expiresAt.reset();

    inputs_.grants[0].window = "Mon-Fri 11:00-12:00 UTC";
    EXPECT_FALSE(decide(live).allowed);
}

TEST_F(PolicyEvaluateTest, UnknownAccountAndTarget) {
    inputs_.account.reset();
    inputs_.grants = {grant(1, "alice", "*")};
    auto d = evaluate(inputs_, AccessRequest{"bob", "", "cosigner-1", Channel::shell, kWed10});
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("unknown account bob"));

    inputs_.account = account("alice");
    inputs_.target.reset();
    d = evaluate(inputs_, AccessRequest{"alice", "", "db-9", Channel::shell, kWed10});
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("unknown target db-9"));

    inputs_.account.reset();
    d = evaluate(inputs_, AccessRequest{"bob", "", "db-9", Channel::shell, kWed10});
    EXPECT_THAT(d.reasons, ElementsAre("unknown account bob", "unknown target db-9"));
}

// Issue 13 ("several matching grants combine confusingly"): `policy check`
// named grant #6 but showed grant #17's limits. One rule now: the most
// generous matching grant governs, with its own limits (the idle timeout is
// no longer borrowed from another grant).
TEST_F(PolicyEvaluateTest, OverlappingGrantsAreGovernedByTheMostGenerousOne) {
    Grant shortButIdle = grant(1, "alice", "cosigner-1");
    shortButIdle.maxSession = 1h;
    shortButIdle.idleTimeout = 45min;
    shortButIdle.expiresAt = at(2026, 11, 26);
    Grant longest = grant(2, "@oncall", "cosigner-*");
    longest.maxSession = 4h;
    longest.idleTimeout = 10min;
    longest.expiresAt = at(2026, 12, 1);
    Grant tiedLater = grant(3, "alice", "*");
    tiedLater.maxSession = 4h;
    tiedLater.idleTimeout = 5min;
    tiedLater.expiresAt = at(2026, 11, 30);
    Grant notMatching = grant(4, "alice", "cosigner-1");  // sftp only: no say in limits
    notMatching.channels = {Channel::sftp};
    notMatching.maxSession = 24h;
    notMatching.idleTimeout = 24h;
    inputs_.grants = {tiedLater, notMatching, longest, shortButIdle};

    const auto d = decide();
    ASSERT_TRUE(d.allowed);
    // #2 and #3 both let the session run 4 h; #2's expiry is later.
    EXPECT_EQ(d.grantId, 2);
    EXPECT_EQ(d.maxSession, 4h);
    EXPECT_EQ(d.idleTimeout, 10min);  // #2's own, not #1's 45 min
    EXPECT_EQ(d.endsBy, at(2026, 12, 1));
    EXPECT_EQ(d.endsByCause, "grant #2 expires");
    EXPECT_EQ(d.matchingGrants, 3);
    EXPECT_EQ(d.endsAt(kWed10), kWed10 + 4h);
    EXPECT_THAT(d.reasons, IsEmpty());
}

// A window's close is a forced end: a long grant whose window closes in 2 h
// gives way to a 4 h grant without one; the window grant alone ends at the close.
TEST_F(PolicyEvaluateTest, AWindowsCloseIsTheSessionsEnd) {
    Grant office = grant(1, "alice", "cosigner-1");
    office.maxSession = 8h;
    office.window = "Mon-Fri 08:00-12:00 UTC";
    Grant plain = grant(2, "alice", "cosigner-1");
    plain.maxSession = 4h;
    inputs_.grants = {office, plain};
    auto d = decide();
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.grantId, 2);
    EXPECT_FALSE(d.endsBy);

    inputs_.grants = {office};
    d = decide();
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.grantId, 1);
    EXPECT_EQ(d.endsBy, at(2026, 11, 25, 12));
    EXPECT_EQ(d.endsByCause, "the window Mon-Fri 08:00-12:00 UTC of grant #1 closes");
    EXPECT_EQ(d.endsAt(kWed10), at(2026, 11, 25, 12));
}

TEST_F(PolicyEvaluateTest, AGrantWithoutExpiryMeansNoForcedEnd) {
    Grant expiring = grant(1, "alice", "cosigner-1");
    expiring.expiresAt = at(2026, 11, 26);
    Grant forever = grant(2, "@oncall", "cosigner-1");
    inputs_.grants = {expiring, forever};
    const auto d = decide();
    ASSERT_TRUE(d.allowed);
    EXPECT_FALSE(d.endsBy);
}

TEST_F(PolicyEvaluateTest, CeilingCapsEveryLimit) {
    Grant g = grant(1, "alice", "cosigner-1");
    g.maxSession = 8h;
    g.idleTimeout = 1h;
    inputs_.grants = {g};
    auto d = decide(request(), LimitCeiling{2h, 15min});
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.maxSession, 2h);
    EXPECT_EQ(d.idleTimeout, 15min);
    d = decide(request(), LimitCeiling{24h, std::nullopt});
    EXPECT_EQ(d.maxSession, 8h);
    EXPECT_EQ(d.idleTimeout, 1h);
    d = decide(request(), LimitCeiling{std::nullopt, 30min});
    EXPECT_EQ(d.maxSession, 8h);
    EXPECT_EQ(d.idleTimeout, 30min);
}

TEST_F(PolicyEvaluateTest, EveryReasonIsListed) {
    inputs_.account->enabled = false;
    inputs_.account->lockedUntil = at(2026, 11, 25, 11);
    Grant wrongLogin = grant(1, "alice", "cosigner-1");
    wrongLogin.logins = {"deploy"};
    Grant wrongChannel = grant(2, "@oncall", "cosigner-*");
    wrongChannel.logins = {"root"};
    wrongChannel.channels = {Channel::shell};
    Grant closedAndExpired = grant(3, "alice", "*");
    closedAndExpired.logins = {"root"};
    closedAndExpired.window = "Sat,Sun 08:00-18:00 UTC";
    closedAndExpired.expiresAt = at(2026, 11, 25, 9);
    Grant otherTarget = grant(4, "alice", "db-*");
    inputs_.grants = {wrongLogin, wrongChannel, closedAndExpired, otherTarget};

    const auto d = decide(request(kWed10, Channel::exec, "root"));
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("account alice is disabled",
                                       "account alice is locked until 2026-11-25T11:00:00Z",
                                       "grant #1: login root not in [deploy]",
                                       "grant #2: channel exec not allowed (allows shell)",
                                       "grant #3: outside window Sat,Sun 08:00-18:00 UTC",
                                       "grant #3: expired at 2026-11-25T09:00:00Z"));
}

TEST_F(PolicyEvaluateTest, DisabledAccountStillListsGrantReasons) {
    inputs_.account->enabled = false;
    const auto d = decide();
    EXPECT_THAT(d.reasons,
                ElementsAre("account alice is disabled", "no grant for alice on cosigner-1"));
}

// ---------------------------------------------------------------------------
// decide() and reachableTargets() on a real store.

constexpr const char* kKeyLine =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGW642Ikkm7zbDcShfVVUP7iOZcHclzqor67VviN5B7 test";

class PolicyDecideTest : public ::testing::Test {
  protected:
    void SetUp() override {
        Accounts accounts(db_);
        for (const char* name : {"alice", "bob"}) {
            auto a = accounts.add(name, "", "", now_);
            EXPECT_TRUE(a.ok()) << a.error();
        }
        Groups groups(db_);
        EXPECT_TRUE(groups.add("oncall", now_).ok());
        EXPECT_TRUE(groups.addMember("oncall", "alice").ok());

        Targets targets(db_);
        for (const char* name : {"cosigner-2", "cosigner-1", "db-1"}) {
            Target t;
            t.name = name;
            t.host = std::string(name) + ".lan";
            t.defaultLogin = "deploy";
            t.hostKey = SshPublicKey::parseLine(kKeyLine).value();
            auto r = targets.add(t, now_);
            EXPECT_TRUE(r.ok()) << r.error();
        }
    }
    std::int64_t addGrant(const std::string& subject, const std::string& pattern,
                          std::vector<std::string> logins = {},
                          std::set<Channel> channels = {Channel::shell, Channel::exec}) {
        Grant g;
        g.subject = subject;
        g.targetPattern = pattern;
        g.logins = std::move(logins);
        g.channels = std::move(channels);
        g.createdBy = "root";
        auto r = Grants(db_).add(g, now_);
        EXPECT_TRUE(r.ok()) << r.error();
        return r ? r->id : 0;
    }

    const TimePoint now_ = kWed10;
    test::TempStore store_;
    Database& db_ = store_.db();
};

TEST_F(PolicyDecideTest, DecideLoadsAccountGroupsTargetsAndGrants) {
    Policy policy(db_);
    const AccessRequest req{"alice", "", "cosigner-1", Channel::shell, now_};
    auto d = policy.decide(req);
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("no grant for alice on cosigner-1"));

    const auto id = addGrant("@oncall", "cosigner-*");
    d = policy.decide(req);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.grantId, id);
    EXPECT_EQ(d.login, "deploy");

    // bob is not in @oncall.
    d = policy.decide({"bob", "", "cosigner-1", Channel::shell, now_});
    EXPECT_FALSE(d.allowed);

    EXPECT_THAT(policy.decide({"nobody", "", "cosigner-1", Channel::shell, now_}).reasons,
                ElementsAre("unknown account nobody"));
    EXPECT_THAT(policy.decide({"alice", "", "db-9", Channel::shell, now_}).reasons,
                ElementsAre("unknown target db-9"));
}

TEST_F(PolicyDecideTest, RevokedGrantsAndDisabledAccountsAreDenied) {
    Policy policy(db_);
    const AccessRequest req{"alice", "", "cosigner-1", Channel::shell, now_};
    const auto id = addGrant("alice", "cosigner-1");
    EXPECT_TRUE(policy.decide(req).allowed);

    ASSERT_TRUE(Accounts(db_).setEnabled("alice", false).ok());
    EXPECT_THAT(policy.decide(req).reasons, ElementsAre("account alice is disabled"));
    ASSERT_TRUE(Accounts(db_).setEnabled("alice", true).ok());
    EXPECT_TRUE(policy.decide(req).allowed);

    ASSERT_TRUE(Grants(db_).revoke(id, "root", now_).ok());
    EXPECT_THAT(policy.decide(req).reasons, ElementsAre("no grant for alice on cosigner-1"));
}

TEST_F(PolicyDecideTest, ReachableTargetsForTheMenu) {
    Policy policy(db_);
    EXPECT_THAT(policy.reachableTargets("alice", Channel::shell, now_), IsEmpty());

    addGrant("@oncall", "cosigner-*", {"root"});  // non-default login still counts
    addGrant("alice", "db-1", {}, {Channel::sftp});
    EXPECT_THAT(policy.reachableTargets("alice", Channel::shell, now_),
                ElementsAre("cosigner-1", "cosigner-2"));
    EXPECT_THAT(policy.reachableTargets("alice", Channel::sftp, now_), ElementsAre("db-1"));
    EXPECT_THAT(policy.reachableTargets("bob", Channel::shell, now_), IsEmpty());
    EXPECT_THAT(policy.reachableTargets("nobody", Channel::shell, now_), IsEmpty());

    ASSERT_TRUE(Accounts(db_).setEnabled("alice", false).ok());
    EXPECT_THAT(policy.reachableTargets("alice", Channel::shell, now_), IsEmpty());
}

}  // namespace
}  // namespace portcullis::db
