// Issue 21 finding 5: the syslog copy of an audit event, which relays cut at
// 8 KiB (rsyslog's default) and which MSG_DONTWAIT dropped silently. A private
// AF_UNIX datagram listener stands in for /dev/log.
#include "db/syslog.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/syslog_listener.hpp"
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "common/encoding.hpp"
#include "db/audit.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using portcullis::test::SyslogListener;
using Listener = SyslogListener;

// The JSON after "<86>Mmm dd hh:mm:ss portcullis[pid]: ".
std::string jsonOf(const std::string& message) {
    const auto at = message.find("]: ");
    return at == std::string::npos ? "" : message.substr(at + 3);
}

AuditRecord record(json details, std::string type = "sftp.rename") {
    AuditRecord r;
    r.id = 4242;
    r.tsMicros = 1767225600123456;
    r.event = {.type = std::move(type),
               .actor = "alice",
               .source = "192.0.2.7",
               .details = std::move(details)};
    r.prevHash = std::string(64, 'a');
    r.hash = std::string(64, 'b');
    return r;
}

class SyslogSinkTest : public ::testing::Test {
  protected:
    test::TempDir tmp_{"syslog"};
    std::filesystem::path socket_ = tmp_.path() / "log";
};

// The finding: one sftp rename gave a 20,896-byte message whose id, ts and
// type came after byte 20,600 (keys sorted).
TEST_F(SyslogSinkTest, IndexedFieldsComeFirstAndLongDetailsAreCut) {
    Listener listener(socket_);
    ASSERT_TRUE(listener.bound());
    SyslogSink sink(socket_);
    const std::string longPath = "/srv/" + std::string(10400, 'a');
    const std::string longPath2 = "/srv/" + std::string(10400, 'b');
    ASSERT_TRUE(sink.send(record(
        {{"session_id", "5e55"}, {"path", longPath}, {"path2", longPath2}, {"result", "ok"}})));
    const auto message = listener.receive();
    ASSERT_TRUE(message);
    EXPECT_LT(message->size(), 2048u);
    EXPECT_THAT(*message, StartsWith("<86>"));  // authpriv.info
    EXPECT_THAT(*message, HasSubstr(" portcullis["));
    const std::string line = jsonOf(*message);
    EXPECT_THAT(line,
                StartsWith("{\"id\":4242,\"ts\":\"2026-01-01T00:00:00.123456Z\","
                           "\"type\":\"sftp.rename\",\"actor\":\"alice\",\"result\":\"ok\","));
    const json parsed = json::parse(line);
    const std::string cut = parsed["details"]["path"];
    EXPECT_THAT(cut, StartsWith("/srv/aaaa"));
    EXPECT_THAT(cut, HasSubstr("[cut: " + std::to_string(longPath.size()) + " bytes, sha256 " +
                               sha256Hex(longPath) + "]"));
    EXPECT_EQ(parsed["details"]["session_id"], "5e55");  // short strings stay
    EXPECT_EQ(parsed["hash"], std::string(64, 'b'));

    // Positive control: a small event is sent whole, in the same order.
    ASSERT_TRUE(sink.send(record({{"account", "alice"}}, "auth.totp")));
    const auto small = listener.receive();
    ASSERT_TRUE(small);
    const json whole = json::parse(jsonOf(*small));
    EXPECT_EQ(whole["details"], json({{"account", "alice"}}));
    EXPECT_TRUE(whole["result"].is_null());
    EXPECT_EQ(sink.takeDropped(), 0u);
}

TEST_F(SyslogSinkTest, ManyLongFieldsStillFitUnder2KiB) {
    json details = json::object();
    for (int i = 0; i < 200; ++i) details["path" + std::to_string(i)] = std::string(300, 'x');
    details["session_ids"] = json::array();
    for (int i = 0; i < 500; ++i) details["session_ids"].push_back(std::string(32, 'f'));
    const std::string line = SyslogSink::formatLine(record(details));
    EXPECT_LT(line.size(), 2000u);
    const json parsed = json::parse(line);
    EXPECT_EQ(parsed["details"]["cut"], true);
    const std::string canonical = details.dump();
    EXPECT_EQ(parsed["details"]["length"], canonical.size());
    EXPECT_EQ(parsed["details"]["sha256"], sha256Hex(canonical));
    EXPECT_EQ(parsed["id"], 4242);
}

// The finding: sends with MSG_DONTWAIT dropped copies silently under bursts.
TEST_F(SyslogSinkTest, DroppedCopiesAreCounted) {
    Listener stalled(socket_, 1);  // the smallest buffer, never read
    ASSERT_TRUE(stalled.bound());
    SyslogSink sink(socket_);
    const auto start = std::chrono::steady_clock::now();
    int failed = 0;
    for (int i = 0; i < 400; ++i) failed += sink.send(record({{"n", i}})) ? 0 : 1;
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GT(failed, 0);
    EXPECT_EQ(sink.takeDropped(), static_cast<std::uint64_t>(failed));
    EXPECT_EQ(sink.takeDropped(), 0u);  // handed over once
    EXPECT_THAT(sink.lastError(), HasSubstr(socket_.string()));
    // A full socket is waited for briefly, then not again for a while: a burst
    // does not hold a store worker for 400 timeouts.
    EXPECT_LT(took, std::chrono::seconds(3));

    // No syslog at all: counted too.
    SyslogSink nowhere(tmp_.path() / "absent");
    EXPECT_FALSE(nowhere.send(record({})));
    EXPECT_EQ(nowhere.takeDropped(), 1u);
}

// Several AuditLogs (the gateway's store workers) share one sink.
TEST_F(SyslogSinkTest, AuditLogsSendThroughASharedSink) {
    Listener listener(socket_);
    ASSERT_TRUE(listener.bound());
    test::TempStore store;
    auto sink = std::make_shared<SyslogSink>(socket_);
    AuditLog first(store.db(), nullptr, sink);
    AuditLog second(store.db(), nullptr, sink);
    first.record(
        {.type = "admin.user.add", .actor = "ops", .source = "", .details = {{"account", "a"}}});
    second.record(
        {.type = "admin.user.add", .actor = "ops", .source = "", .details = {{"account", "b"}}});
    const auto one = listener.receive();
    const auto two = listener.receive();
    ASSERT_TRUE(one && two);
    EXPECT_EQ(json::parse(jsonOf(*one))["id"], 1);
    EXPECT_EQ(json::parse(jsonOf(*two))["details"]["account"], "b");
    EXPECT_EQ(sink->takeDropped(), 0u);
}

}  // namespace
}  // namespace portcullis::db
