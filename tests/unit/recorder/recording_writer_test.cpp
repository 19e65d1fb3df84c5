// gateway/recording_writer: checkpoints while a recording is written (issue 12
// finding 5, SPEC §15: size and running SHA-256 at least every 10 s or 16 MiB),
// with an injected clock, and the sidecar for sealed input.
#include "gateway/recording_writer.hpp"

#include <sys/stat.h>

#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "common/encoding.hpp"
#include "recording/file_digest.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/recorder/recorder_test_util.hpp"

namespace portcullis::gateway {
namespace {

namespace fs = std::filesystem;
using testing::FakeClock;
using testing::waitFor;

class RecordingWriterTest : public ::testing::Test {
  protected:
    // Every checkpoint the writer reported, in order.
    RecordingWriter::Checkpointed collect() {
        return [this](const FileCheckpoint& c) {
            const std::lock_guard lock(mutex_);
            checkpoints_.push_back(c);
        };
    }
    std::vector<FileCheckpoint> checkpoints() {
        const std::lock_guard lock(mutex_);
        return checkpoints_;
    }
    std::size_t count() { return checkpoints().size(); }
    // Queues an append and waits until the lane ran it.
    void appendAndWait(RecordingWriter& writer, const RecordingWriter::FilePtr& file,
                       std::string bytes) {
        std::atomic<bool> done{false};
        writer.append(file, std::move(bytes), [&](Result<bool> r) {
            EXPECT_TRUE(r.ok());
            done = true;
        });
        ASSERT_TRUE(waitFor([&] { return done.load(); }));
    }
    // Two empty jobs: once the second ran, the lane also finished its
    // checkpoint scan after the first.
    void settle(RecordingWriter& writer, const RecordingWriter::FilePtr& file) {
        appendAndWait(writer, file, "");
        appendAndWait(writer, file, "");
    }
    Result<SealedFile> closeAndWait(RecordingWriter& writer, const RecordingWriter::FilePtr& file) {
        std::optional<Result<SealedFile>> sealed;
        std::mutex m;
        writer.close(file, [&](Result<SealedFile> r) {
            const std::lock_guard lock(m);
            sealed.emplace(std::move(r));
        });
        EXPECT_TRUE(waitFor([&] {
            const std::lock_guard lock(m);
            return sealed.has_value();
        }));
        const std::lock_guard lock(m);
        return sealed ? std::move(*sealed) : Result<SealedFile>(makeError("not sealed"));
    }

    test::TempDir dir_;
    Logger log_{LogLevel::error};
    FakeClock clock_;
    std::mutex mutex_;
    std::vector<FileCheckpoint> checkpoints_;
};

// Issue 12 finding 5: the first checkpoint right after the header, then one
// once the file grew and 10 s passed, even when nothing more is written.
TEST_F(RecordingWriterTest, CheckpointsTheHeaderThenEveryTenSecondsOfGrowth) {
    RecordingWriter writer(log_, 1, clock_.function());
    const auto path = dir_.path() / "s.cast";
    const std::string header = "{\"version\":2}\n";
    auto file = writer.create(path, header, {}, collect());
    ASSERT_TRUE(waitFor([&] { return count() == 1; }));
    EXPECT_EQ(checkpoints()[0].size, header.size());
    EXPECT_EQ(checkpoints()[0].sha256, sha256Hex(header));

    // Growth alone, within 10 s: no checkpoint (positive control below).
    appendAndWait(writer, file, "[0.1, \"o\", \"abc\"]\n");
    clock_.advance(std::chrono::milliseconds(9000));
    settle(writer, file);
    EXPECT_EQ(count(), 1u);

    // 10 s after the last one, with no further write: the lane's own scan.
    clock_.advance(std::chrono::milliseconds(1000));
    ASSERT_TRUE(waitFor([&] { return count() == 2; }));
    const auto second = checkpoints()[1];
    const std::string content = header + "[0.1, \"o\", \"abc\"]\n";
    EXPECT_EQ(second.size, content.size());
    EXPECT_EQ(second.sha256, sha256Hex(content));

    // No growth, no checkpoint, however long.
    clock_.advance(std::chrono::milliseconds(60000));
    settle(writer, file);
    EXPECT_EQ(count(), 2u);

    // Growth after more than 10 s: the write itself takes one at once...
    appendAndWait(writer, file, "x");
    ASSERT_EQ(count(), 3u);
    EXPECT_EQ(checkpoints()[2].size, content.size() + 1);
    // ...and the next write, within 10 s of it, does not.
    appendAndWait(writer, file, "y");
    settle(writer, file);
    EXPECT_EQ(count(), 3u);

    const auto sealed = closeAndWait(writer, file);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(sealed->size, content.size() + 2);
    // Closed files take no more checkpoints.
    clock_.advance(std::chrono::milliseconds(60000));
    auto other = writer.create(dir_.path() / "t.cast", header, {}, {});
    settle(writer, other);
    EXPECT_EQ(count(), 3u);
}

// Issue 12 finding 5: at least every 16 MiB, whatever the clock says; every
// checkpoint's digest is the digest of the file's first `size` bytes.
TEST_F(RecordingWriterTest, CheckpointsAtLeastEverySixteenMebibytes) {
    RecordingWriter writer(log_, 1, clock_.function());
    const auto path = dir_.path() / "bulk.rec";
    auto file = writer.create(path, "{}\n", {}, collect());
    // 40 MiB in chunks of 1 MiB + 1000 bytes (never a multiple of the limit).
    std::string chunk(1024 * 1024 + 1000, 'a');
    for (int i = 0; i < 40; ++i) {
        chunk[0] = static_cast<char>('a' + i % 26);
        writer.append(file, chunk, {});
    }
    const auto sealed = closeAndWait(writer, file);
    ASSERT_TRUE(sealed.ok());
    const auto all = checkpoints();
    ASSERT_GE(all.size(), 3u);
    std::uint64_t previous = 0;
    for (const auto& c : all) {
        EXPECT_LE(c.size - previous, RecordingWriter::kCheckpointBytes) << "gap before " << c.size;
        const auto prefix = recording::digestFilePrefix(path, c.size);
        ASSERT_TRUE(prefix.ok());
        EXPECT_EQ(prefix->sha256, c.sha256) << "checkpoint at " << c.size;
        previous = c.size;
    }
    EXPECT_LE(sealed->size - previous, RecordingWriter::kCheckpointBytes);
}

TEST_F(RecordingWriterTest, WithoutACallbackNothingIsCheckpointed) {
    RecordingWriter writer(log_, 1, clock_.function());
    auto file = writer.create(dir_.path() / "plain.rec", "{}\n", {});
    appendAndWait(writer, file, std::string(1000, 'x'));
    clock_.advance(std::chrono::milliseconds(20000));
    settle(writer, file);
    EXPECT_TRUE(closeAndWait(writer, file).ok());
    EXPECT_EQ(count(), 0u);
}

// Issue 12 finding 8: the sealed entry goes to NAME.secrets (0600) and the
// placeholder to the file, in one job; the seal covers the file only.
TEST_F(RecordingWriterTest, SecretGoesToTheSidecarAndItsPlaceholderToTheFile) {
    RecordingWriter writer(log_, 2, clock_.function());
    const auto path = dir_.path() / "s.cast";
    auto file = writer.create(path, "H\n", {});
    std::atomic<bool> done{false};
    writer.appendSecret(file, "{\"event\":1}\n", "P\n", [&](Result<bool> r) {
        EXPECT_TRUE(r.ok());
        done = true;
    });
    ASSERT_TRUE(waitFor([&] { return done.load(); }));
    appendAndWait(writer, file, "Q\n");
    const auto sealed = closeAndWait(writer, file);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(test::readFile(path), "H\nP\nQ\n");
    EXPECT_EQ(sealed->sha256, sha256Hex("H\nP\nQ\n"));
    const auto sidecar = RecordingWriter::sidecarPath(path);
    EXPECT_EQ(sidecar.filename(), "s.cast.secrets");
    EXPECT_EQ(test::readFile(sidecar), "{\"event\":1}\n");
    struct stat st {};
    ASSERT_EQ(::stat(sidecar.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(RecordingWriterTest, AFileWithoutSecretsHasNoSidecar) {
    RecordingWriter writer(log_, 1, clock_.function());
    const auto path = dir_.path() / "s.cast";
    auto file = writer.create(path, "H\n", {});
    appendAndWait(writer, file, "Q\n");
    ASSERT_TRUE(closeAndWait(writer, file).ok());
    EXPECT_FALSE(fs::exists(RecordingWriter::sidecarPath(path)));
}

// A sidecar that cannot be created fails the file: the placeholder is not
// written and the job reports the error (the channel ends, nothing passes).
TEST_F(RecordingWriterTest, ASidecarThatCannotBeWrittenFailsTheFile) {
    RecordingWriter writer(log_, 1, clock_.function());
    const auto path = dir_.path() / "s.cast";
    test::writeFile(RecordingWriter::sidecarPath(path), "in the way", 0600);
    auto file = writer.create(path, "H\n", {});
    std::atomic<int> result{0};
    writer.appendSecret(file, "{}\n", "P\n", [&](Result<bool> r) { result = r.ok() ? 1 : 2; });
    ASSERT_TRUE(waitFor([&] { return result.load() != 0; }));
    EXPECT_EQ(result.load(), 2);
    const auto sealed = closeAndWait(writer, file);
    ASSERT_TRUE(sealed.ok());
    EXPECT_TRUE(sealed->error.has_value());
    EXPECT_EQ(test::readFile(path), "H\n");
}

TEST(FileDigestPrefix, SnapshotAndPrefixAgreeWithTheWholeDigest) {
    recording::Sha256Stream stream;
    stream.update("hello ");
    EXPECT_EQ(stream.snapshotHex(), sha256Hex("hello "));
    stream.update("world");
    EXPECT_EQ(stream.snapshotHex(), sha256Hex("hello world"));
    EXPECT_EQ(stream.finishHex(), sha256Hex("hello world"));

    test::TempDir dir;
    const auto path = dir.path() / "f";
    test::writeFile(path, "hello world", 0600);
    const auto prefix = recording::digestFilePrefix(path, 5);
    ASSERT_TRUE(prefix.ok());
    EXPECT_EQ(prefix->size, 5u);
    EXPECT_EQ(prefix->sha256, sha256Hex("hello"));
    EXPECT_FALSE(recording::digestFilePrefix(path, 12).ok());  // shorter than asked
    const auto whole = recording::digestFilePrefix(path, 11);
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(whole->sha256, sha256Hex("hello world"));
}

}  // namespace
}  // namespace portcullis::gateway
