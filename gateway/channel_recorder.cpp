#include "gateway/channel_recorder.hpp"

#include "recording/rec_format.hpp"

namespace portcullis::gateway {

ChannelRecorder::ChannelRecorder(RecordingWriter& writer, Post post, recording::RecordingMeta meta,
                                 std::filesystem::path file, bool terminal)
    : writer_(writer),
      post_(std::move(post)),
      meta_(std::move(meta)),
      file_(std::move(file)),
      terminal_(terminal),
      start_(std::chrono::steady_clock::now()) {}

ChannelRecorder::~ChannelRecorder() {
    // A channel that ends without an explicit close still gets its file sealed.
    close({});
}

void ChannelRecorder::start() {
    std::string header =
        terminal_ ? recording::castHeaderLine(meta_) : recording::recHeaderLine(meta_);
    handle_ = writer_.create(file_, std::move(header),
                             [state = state_, post = post_](Result<bool> result) {
                                 post([state, result = std::move(result)] {
                                     if (result)
                                         state->ready = true;
                                     else if (!state->error)
                                         state->error = result.error();
                                 });
                             });
}

std::int64_t ChannelRecorder::elapsedUs() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 start_)
        .count();
}

void ChannelRecorder::record(Stream stream, std::string_view bytes) {
    if (bytes.empty() || closed_ || !handle_) return;
    const auto t = elapsedUs();
    std::string encoded;
    if (terminal_) {
        encoded = stream == Stream::in ? input_.encode(t, bytes) : output_.encode(t, bytes);
    } else {
        const char code = stream == Stream::in ? 'i' : stream == Stream::out ? 'o' : 'e';
        encoded = recording::recFrame(t, code, bytes);
    }
    submit(std::move(encoded), stream, bytes.size());
}

void ChannelRecorder::resize(int cols, int rows) {
    if (!terminal_ || closed_ || !handle_) return;
    submit(recording::castResizeLine(elapsedUs(), cols, rows), std::nullopt, 0);
}

void ChannelRecorder::submit(std::string bytes, std::optional<Stream> stream, std::size_t length) {
    // `bytes` may be empty (the encoder holds a character's first bytes until
    // the rest arrives): the job still goes through the queue, so that
    // confirmations keep the order of the chunks.
    writer_.append(handle_, std::move(bytes),
                   [state = state_, post = post_, stream, length](Result<bool> result) {
                       post([state, stream, length, result = std::move(result)] {
                           if (!result) {
                               if (!state->error) state->error = result.error();
                               return;
                           }
                           if (stream)
                               state->confirmed[static_cast<std::size_t>(*stream)] += length;
                       });
                   });
}

std::size_t ChannelRecorder::takeConfirmed(Stream stream) {
    auto& n = state_->confirmed[static_cast<std::size_t>(stream)];
    const auto taken = n;
    n = 0;
    return taken;
}

void ChannelRecorder::close(RecordingWriter::Sealed done) {
    if (closed_ || !handle_) return;
    if (terminal_) {
        const auto t = elapsedUs();
        for (auto tail : {output_.finish(t), input_.finish(t)}) {
            if (!tail.empty()) writer_.append(handle_, std::move(tail), {});
        }
    }
    closed_ = true;
    writer_.close(handle_, std::move(done));
}

}  // namespace portcullis::gateway
