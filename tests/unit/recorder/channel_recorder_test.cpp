// gateway/channel_recorder: input at a password-like prompt is sealed, never
// written in clear (issue 12 finding 8), `[recording] input = none|all`, and
// a recorder destroyed with its connection still seals (finding 5).
#include "gateway/channel_recorder.hpp"

#include <mutex>
#include <sstream>

#include <gtest/gtest.h>

#include "common/secret_bytes.hpp"
#include "recording/hidden_input.hpp"
#include "recording/recording_reader.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/recorder/recorder_test_util.hpp"

namespace portcullis::gateway {
namespace {

namespace fs = std::filesystem;
using Stream = ChannelRecorder::Stream;
using testing::FakeStrand;

struct Event {
    char stream;
    std::string data;
};

class ChannelRecorderTest : public ::testing::Test {
  protected:
    ChannelRecorderTest() : key_(db::MasterKey::fromBytes(SecretBytes(std::string(32, 'K')))) {}

    std::unique_ptr<ChannelRecorder> make(RecordingInput input, bool terminal = true,
                                          bool withKey = true) {
        recording::RecordingMeta meta;
        meta.sessionId = "sess1";
        meta.channel = 1;
        meta.kind = "shell";
        file_ = dir_.path() / (terminal ? "sess1.cast" : "sess1.rec");
        ChannelRecorder::Options options;
        options.input = input;
        auto prompts = SecretPromptPattern::compile(kDefaultSecretPrompts);
        options.secretPrompts = std::move(prompts).value();
        options.masterKey = withKey ? &key_ : nullptr;
        auto recorder = std::make_unique<ChannelRecorder>(writer_, strand_.post(), meta, file_,
                                                          terminal, std::move(options));
        recorder->sealWith([this](Result<SealedFile> r) {
            const std::lock_guard lock(mutex_);
            sealed_ = r.ok();
        });
        recorder->start();
        EXPECT_TRUE(strand_.pumpUntil([&] { return recorder->ready(); }));
        return recorder;
    }
    // Records a chunk and waits until the whole of it is confirmed (or an error).
    void recordAndConfirm(ChannelRecorder& r, Stream stream, const std::string& bytes) {
        r.record(stream, bytes);
        std::size_t confirmed = 0;
        EXPECT_TRUE(strand_.pumpUntil([&] {
            confirmed += r.takeConfirmed(stream);
            return confirmed == bytes.size() || r.error();
        })) << "not confirmed: "
            << bytes;
        EXPECT_EQ(confirmed, bytes.size());
    }
    bool sealed() {
        return testing::waitFor([&] {
            const std::lock_guard lock(mutex_);
            return sealed_.has_value();
        });
    }
    std::vector<Event> events() {
        std::vector<Event> out;
        auto summary = recording::readRecording(file_, [&](const recording::RecordingEvent& e) {
            out.push_back({e.stream, e.data});
            return true;
        });
        EXPECT_TRUE(summary.ok());
        return out;
    }
    std::vector<recording::HiddenInputEntry> sidecar() {
        std::vector<recording::HiddenInputEntry> out;
        const auto path = RecordingWriter::sidecarPath(file_);
        if (!fs::exists(path)) return out;
        std::istringstream in(test::readFile(path));
        for (std::string line; std::getline(in, line);) {
            auto entry = recording::parseHiddenInputLine(line);
            EXPECT_TRUE(entry.ok()) << line;
            if (entry) out.push_back(*entry);
        }
        return out;
    }
    std::string reveal(const recording::HiddenInputEntry& e) {
        auto plain = key_.open(e.sealed, recording::hiddenInputAssociatedData("sess1", 1, e.event));
        EXPECT_TRUE(plain.ok());
        return plain ? std::string(plain->view()) : std::string();
    }

    test::TempDir dir_;
    Logger log_{LogLevel::error};
    RecordingWriter writer_{log_, 2};
    FakeStrand strand_;
    db::MasterKey key_;
    fs::path file_;
    std::mutex mutex_;
    std::optional<bool> sealed_;
};

// Issue 12 finding 8: `read -s -p 'Vault passphrase: '` and a typed secret:
// the .cast holds placeholders only, the sidecar the sealed bytes, bound to
// their event numbers; the Enter and a normal command stay in clear.
TEST_F(ChannelRecorderTest, InputAtAPasswordPromptIsSealedNotWritten) {
    auto r = make(RecordingInput::sealedSecrets);
    recordAndConfirm(*r, Stream::out, "$ ");
    recordAndConfirm(*r, Stream::in, "echo hi\r");  // positive control: in clear
    recordAndConfirm(*r, Stream::out, "echo hi\r\nhi\r\nVault passphrase: ");
    recordAndConfirm(*r, Stream::in, "s3");
    recordAndConfirm(*r, Stream::in, "cr");
    recordAndConfirm(*r, Stream::out, "**");
    recordAndConfirm(*r, Stream::in, "et\r");
    recordAndConfirm(*r, Stream::out, "\r\n$ ");
    recordAndConfirm(*r, Stream::in, "ls\r");
    r->close();
    ASSERT_TRUE(sealed());

    const auto all = events();
    std::string input;
    std::vector<std::int64_t> placeholders;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].stream != 'i') continue;
        input += all[i].data;
        if (recording::isHiddenInputPlaceholder(all[i].data)) placeholders.push_back(i + 1);
    }
    EXPECT_EQ(input,
              "echo hi\r[hidden input, 2 bytes][hidden input, 2 bytes][hidden input, 2 bytes]"
              "\rls\r");
    EXPECT_EQ(test::readFile(file_).find("s3"), std::string::npos);
    EXPECT_EQ(test::readFile(file_).find("cret"), std::string::npos);

    const auto entries = sidecar();
    ASSERT_EQ(entries.size(), 3u);
    ASSERT_EQ(placeholders.size(), 3u);
    std::string secret;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ(entries[i].event, placeholders[i]);
        EXPECT_EQ(entries[i].bytes, 2);
        secret += reveal(entries[i]);
    }
    EXPECT_EQ(secret, "s3cret");
    // Bound to its event: the same blob does not open as another event's.
    EXPECT_FALSE(key_.open(entries[0].sealed,
                           recording::hiddenInputAssociatedData("sess1", 1, entries[1].event))
                     .ok());
}

TEST_F(ChannelRecorderTest, ASudoPromptSealsUpToTheEnterAndCtrlCEndsIt) {
    auto r = make(RecordingInput::sealedSecrets);
    recordAndConfirm(*r, Stream::out, "[sudo] password for root: ");
    recordAndConfirm(*r, Stream::in, "hunter2\rid\r");
    recordAndConfirm(*r, Stream::out, "\r\nPassword: ");
    recordAndConfirm(*r, Stream::in,
                     "ab\x03"
                     "echo after\r");
    r->close();
    ASSERT_TRUE(sealed());
    std::string input;
    for (const auto& e : events())
        if (e.stream == 'i') input += e.data;
    EXPECT_EQ(input,
              "[hidden input, 7 bytes]\rid\r[hidden input, 2 bytes]\x03"
              "echo after\r");
    const auto entries = sidecar();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(reveal(entries[0]), "hunter2");
    EXPECT_EQ(reveal(entries[1]), "ab");
}

// `[recording] input = all`: today's behaviour, everything in clear.
TEST_F(ChannelRecorderTest, InputAllRecordsSecretsInClear) {
    auto r = make(RecordingInput::all);
    recordAndConfirm(*r, Stream::out, "Password: ");
    recordAndConfirm(*r, Stream::in, "hunter2\r");
    r->close();
    ASSERT_TRUE(sealed());
    EXPECT_NE(test::readFile(file_).find("hunter2"), std::string::npos);
    EXPECT_FALSE(fs::exists(RecordingWriter::sidecarPath(file_)));
}

// `[recording] input = none`: no input events at all, output still there,
// and input is still confirmed (so it is forwarded) in order.
TEST_F(ChannelRecorderTest, InputNoneRecordsNoInputButAllOutput) {
    auto r = make(RecordingInput::none);
    recordAndConfirm(*r, Stream::out, "Password: ");
    recordAndConfirm(*r, Stream::in, "hunter2\r");
    recordAndConfirm(*r, Stream::in, "ls\r");
    recordAndConfirm(*r, Stream::out, "file\r\n");
    r->close();
    ASSERT_TRUE(sealed());
    std::string output;
    for (const auto& e : events()) {
        EXPECT_NE(e.stream, 'i');
        output += e.data;
    }
    EXPECT_EQ(output, "Password: file\r\n");
    EXPECT_FALSE(fs::exists(RecordingWriter::sidecarPath(file_)));
}

TEST_F(ChannelRecorderTest, InputNoneAlsoAppliesToByteExactRecordings) {
    auto r = make(RecordingInput::none, false);
    recordAndConfirm(*r, Stream::in, "upload");
    recordAndConfirm(*r, Stream::out, "ok");
    r->close();
    ASSERT_TRUE(sealed());
    for (const auto& e : events()) EXPECT_NE(e.stream, 'i');
}

// Without a pty there is no echo to switch off: nothing is a hidden prompt.
TEST_F(ChannelRecorderTest, ChannelsWithoutAPtyAreNotInspected) {
    auto r = make(RecordingInput::sealedSecrets, false);
    recordAndConfirm(*r, Stream::out, "Password: ");
    recordAndConfirm(*r, Stream::in, "data");
    r->close();
    ASSERT_TRUE(sealed());
    std::string input;
    for (const auto& e : events())
        if (e.stream == 'i') input += e.data;
    EXPECT_EQ(input, "data");
}

// Fail closed: hidden input that cannot be sealed ends the recording, and
// none of it (nor anything after it) is confirmed for forwarding.
TEST_F(ChannelRecorderTest, HiddenInputWithoutAKeyFailsClosed) {
    auto r = make(RecordingInput::sealedSecrets, true, false);
    recordAndConfirm(*r, Stream::out, "Password: ");
    r->record(Stream::in, "hunter2");
    r->record(Stream::in, "\rls\r");
    ASSERT_TRUE(strand_.pumpUntil([&] { return r->error().has_value(); }));
    EXPECT_EQ(r->takeConfirmed(Stream::in), 0u);
    r->close();
    ASSERT_TRUE(sealed());
    EXPECT_EQ(test::readFile(file_).find("hunter2"), std::string::npos);
}

// Issue 12 finding 5: a recorder destroyed without close (its connection torn
// down under a live channel) still seals through its callback.
TEST_F(ChannelRecorderTest, DestroyingARecorderSealsIt) {
    auto r = make(RecordingInput::sealedSecrets);
    recordAndConfirm(*r, Stream::out, "still running");
    r.reset();
    ASSERT_TRUE(sealed());
    const std::lock_guard lock(mutex_);
    EXPECT_TRUE(*sealed_);
}

}  // namespace
}  // namespace portcullis::gateway
