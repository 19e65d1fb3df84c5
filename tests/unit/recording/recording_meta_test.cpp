#include "recording/recording_meta.hpp"

#include <gtest/gtest.h>

#include "tests/unit/recording/recording_test_util.hpp"

namespace portcullis::recording {
namespace {

void expectSameMeta(const RecordingMeta& a, const RecordingMeta& b) {
    EXPECT_EQ(a.sessionId, b.sessionId);
    EXPECT_EQ(a.channel, b.channel);
    EXPECT_EQ(a.account, b.account);
    EXPECT_EQ(a.login, b.login);
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.grantId, b.grantId);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.command, b.command);
    EXPECT_EQ(a.term, b.term);
    EXPECT_EQ(a.width, b.width);
    EXPECT_EQ(a.height, b.height);
    EXPECT_EQ(a.startedAtUnix, b.startedAtUnix);
    EXPECT_EQ(a.title, b.title);
}

TEST(RecordingMeta, ShellHeaderFields) {
    const auto header = headerJson(testing::sampleMeta());
    EXPECT_EQ(header["version"], 2);
    EXPECT_EQ(header["title"], "alice@cosigner as root");
    EXPECT_FALSE(header.contains("command"));  // shell: no command
    const auto& p = header["portcullis"];
    EXPECT_EQ(p["session"], "s-0001");
    EXPECT_EQ(p["channel"], 2);
    EXPECT_EQ(p["account"], "alice");
    EXPECT_EQ(p["login"], "root");
    EXPECT_EQ(p["target"], "cosigner");
    EXPECT_EQ(p["source"], "192.0.2.7");
    EXPECT_EQ(p["grant"], 42);
    EXPECT_EQ(p["kind"], "shell");
}

TEST(RecordingMeta, RoundTrip) {
    const RecordingMeta meta = testing::sampleMeta();
    expectSameMeta(metaFromHeader(headerJson(meta)), meta);
}

TEST(RecordingMeta, ExecWithoutPtyOrGrant) {
    RecordingMeta meta = testing::sampleMeta();
    meta.kind = "exec";
    meta.command = "tar czf - /etc";
    meta.term.clear();
    meta.grantId.reset();
    const auto header = headerJson(meta);
    EXPECT_EQ(header["command"], "tar czf - /etc");
    EXPECT_TRUE(header["portcullis"]["grant"].is_null());
    EXPECT_TRUE(header["env"].is_object());
    EXPECT_FALSE(header["env"].contains("TERM"));
    expectSameMeta(metaFromHeader(header), meta);
}

TEST(RecordingMeta, InvalidUtf8InClientStringsIsEscaped) {
    RecordingMeta meta = testing::sampleMeta();
    meta.command = "echo \xFF\xC3";
    const auto header = headerJson(meta);
    EXPECT_EQ(header["command"], "echo \\xff\\xc3");
    EXPECT_NO_THROW((void)header.dump());
}

TEST(RecordingMeta, MissingFieldsKeepDefaults) {
    const RecordingMeta meta = metaFromHeader(nlohmann::json::parse(R"({"version": 2})"));
    EXPECT_EQ(meta.width, 80);
    EXPECT_EQ(meta.height, 24);
    EXPECT_EQ(meta.channel, 1);
    EXPECT_FALSE(meta.grantId);
    EXPECT_FALSE(meta.command);
    EXPECT_EQ(meta.sessionId, "");
    // Wrong types are ignored too, not thrown.
    const RecordingMeta odd = metaFromHeader(
        nlohmann::json::parse(R"({"width": "wide", "portcullis": {"grant": "x", "session": 5}})"));
    EXPECT_EQ(odd.width, 80);
    EXPECT_FALSE(odd.grantId);
    EXPECT_EQ(odd.sessionId, "");
    EXPECT_EQ(metaFromHeader(nlohmann::json::array()).width, 80);
}

}  // namespace
}  // namespace portcullis::recording
