#pragma once
// ChannelRecorder: the recording of one channel (SPEC §6), as the bridge sees
// it. Terminal channels become asciicast v2, every other channel the
// byte-exact .rec format. The bridge hands over each chunk it read before
// forwarding it, and forwards only as many bytes of a stream as were confirmed
// written (takeConfirmed): nothing passes unrecorded, and a slow disk slows
// the session instead of growing memory. Runs on its connection's strand.
//
// Input typed at a password-like prompt of a terminal channel (issue 12
// finding 8) is sealed: the .cast gets the placeholder event, the sidecar the
// bytes under master.key, and the chunk is confirmed only once both are
// written. `[recording] input = none` records no input, `all` everything.
//
// Every way a recorder ends (close, or its destruction with the channel or
// the whole connection) seals the file through the callback given to
// sealWith: no recording is left unsealed by a dropped connection.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "db/master_key.hpp"
#include "gateway/config.hpp"
#include "gateway/recording_writer.hpp"
#include "gateway/secret_prompt.hpp"
#include "recording/cast_writer.hpp"
#include "recording/recording_meta.hpp"

namespace portcullis::gateway {

// How a recorder treats input and who hears of its checkpoints.
struct RecorderOptions {
    RecordingInput input = RecordingInput::sealedSecrets;
    // Null: no prompt is ever recognised.
    std::shared_ptr<const SecretPromptPattern> secretPrompts;
    // Seals hidden input; without it hidden input fails the recording (closed).
    const db::MasterKey* masterKey = nullptr;
    // Hears of each checkpoint (on the writer thread).
    RecordingWriter::Checkpointed checkpointed;
};

class ChannelRecorder {
  public:
    enum class Stream { in = 0, out = 1, err = 2 };
    // Runs a function on the connection's strand and lets the connection make
    // progress afterwards; keeps the connection alive until then.
    using Post = std::function<void(std::function<void()>)>;

    using Options = RecorderOptions;

    ChannelRecorder(RecordingWriter& writer, Post post, recording::RecordingMeta meta,
                    std::filesystem::path file, bool terminal, Options options = {});
    ~ChannelRecorder();  // closes (and so seals) if not closed yet
    ChannelRecorder(const ChannelRecorder&) = delete;
    ChannelRecorder& operator=(const ChannelRecorder&) = delete;

    // Creates the file (header included); ready() once it exists.
    void start();
    bool ready() const { return state_->ready; }
    // Set when the file could not be created or written: the channel must end.
    const std::optional<std::string>& error() const { return state_->error; }

    void record(Stream stream, std::string_view bytes);
    void resize(int cols, int rows);
    // Bytes of `stream` confirmed written since the last call.
    std::size_t takeConfirmed(Stream stream);

    // Who gets the file's size and digest when it is closed (on the writer thread).
    void sealWith(RecordingWriter::Sealed sealed) { sealed_ = std::move(sealed); }
    // Writes what the encoders still hold, then seals. Later calls do nothing.
    void close();

    bool terminal() const { return terminal_; }
    const recording::RecordingMeta& meta() const { return meta_; }
    const std::filesystem::path& file() const { return file_; }
    // Events queued to the .cast so far (the next one is events() + 1).
    std::int64_t events() const { return events_; }

  private:
    // What the writer's callbacks report, read on the strand.
    struct State {
        bool ready = false;
        std::optional<std::string> error;
        std::array<std::size_t, 3> confirmed{};
    };
    std::int64_t elapsedUs() const;
    void recordInput(std::int64_t t, std::string_view bytes);
    void sealHidden(std::int64_t t, std::string_view secret);
    void submit(std::string bytes, std::optional<Stream> stream, std::size_t length);
    RecordingWriter::Done confirm(std::optional<Stream> stream, std::size_t length);
    void fail(const std::string& error);

    RecordingWriter& writer_;
    Post post_;
    recording::RecordingMeta meta_;
    std::filesystem::path file_;
    bool terminal_;
    Options options_;
    std::chrono::steady_clock::time_point start_;
    std::shared_ptr<State> state_ = std::make_shared<State>();
    RecordingWriter::FilePtr handle_;
    RecordingWriter::Sealed sealed_;
    recording::CastStreamEncoder output_{'o'};
    recording::CastStreamEncoder input_{'i'};
    HiddenInputTracker hidden_;
    std::int64_t events_ = 0;
    bool closed_ = false;
    bool failed_ = false;  // hidden input could not be sealed
};

}  // namespace portcullis::gateway
