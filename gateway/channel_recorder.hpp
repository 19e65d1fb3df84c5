#pragma once
// ChannelRecorder: the recording of one channel (SPEC §6), as the bridge sees
// it. Terminal channels become asciicast v2, every other channel the
// byte-exact .rec format. The bridge hands over each chunk it read before
// forwarding it, and forwards only as many bytes of a stream as were confirmed
// written (takeConfirmed): nothing passes unrecorded, and a slow disk slows
// the session instead of growing memory. Runs on its connection's strand.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/recording_writer.hpp"
#include "recording/cast_writer.hpp"
#include "recording/recording_meta.hpp"

namespace portcullis::gateway {

class ChannelRecorder {
  public:
    enum class Stream { in = 0, out = 1, err = 2 };
    // Runs a function on the connection's strand and lets the connection make
    // progress afterwards; keeps the connection alive until then.
    using Post = std::function<void(std::function<void()>)>;

    ChannelRecorder(RecordingWriter& writer, Post post, recording::RecordingMeta meta,
                    std::filesystem::path file, bool terminal);
    ~ChannelRecorder();
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

    // Writes what the encoders still hold, then seals; `done` runs on the
    // writer thread. Later calls do nothing.
    void close(RecordingWriter::Sealed done);

    bool terminal() const { return terminal_; }
    const recording::RecordingMeta& meta() const { return meta_; }
    const std::filesystem::path& file() const { return file_; }

  private:
    // What the writer's callbacks report, read on the strand.
    struct State {
        bool ready = false;
        std::optional<std::string> error;
        std::array<std::size_t, 3> confirmed{};
    };
    std::int64_t elapsedUs() const;
    void submit(std::string bytes, std::optional<Stream> stream, std::size_t length);

    RecordingWriter& writer_;
    Post post_;
    recording::RecordingMeta meta_;
    std::filesystem::path file_;
    bool terminal_;
    std::chrono::steady_clock::time_point start_;
    std::shared_ptr<State> state_ = std::make_shared<State>();
    RecordingWriter::FilePtr handle_;
    recording::CastStreamEncoder output_{'o'};
    recording::CastStreamEncoder input_{'i'};
    bool closed_ = false;
};

}  // namespace portcullis::gateway
