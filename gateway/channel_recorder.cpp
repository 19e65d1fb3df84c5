#include "gateway/channel_recorder.hpp"

#include "recording/hidden_input.hpp"
#include "recording/rec_format.hpp"

namespace portcullis::gateway {

ChannelRecorder::ChannelRecorder(RecordingWriter& writer, Post post, recording::RecordingMeta meta,
                                 std::filesystem::path file, bool terminal, Options options)
    : writer_(writer),
      post_(std::move(post)),
      meta_(std::move(meta)),
      file_(std::move(file)),
      terminal_(terminal),
      options_(std::move(options)),
      start_(std::chrono::steady_clock::now()),
      hidden_(options_.secretPrompts) {}

ChannelRecorder::~ChannelRecorder() {
    // A channel torn down with its connection (a dropped client) is sealed
    // like one that closed: the digest computed while writing reaches the store.
    close();
}

void ChannelRecorder::start() {
    std::string header =
        terminal_ ? recording::castHeaderLine(meta_) : recording::recHeaderLine(meta_);
    handle_ = writer_.create(
        file_, std::move(header),
        [state = state_, post = post_](Result<bool> result) {
            post([state, result = std::move(result)] {
                if (result)
                    state->ready = true;
                else if (!state->error)
                    state->error = result.error();
            });
        },
        options_.checkpointed);
}

std::int64_t ChannelRecorder::elapsedUs() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 start_)
        .count();
}

void ChannelRecorder::record(Stream stream, std::string_view bytes) {
    if (bytes.empty() || closed_ || failed_ || !handle_) return;
    const auto t = elapsedUs();
    if (stream == Stream::in) return recordInput(t, bytes);
    std::string encoded;
    if (terminal_) {
        if (options_.input == RecordingInput::sealedSecrets) hidden_.output(bytes);
        encoded = output_.encode(t, bytes);
    } else {
        encoded = recording::recFrame(t, stream == Stream::out ? 'o' : 'e', bytes);
    }
    submit(std::move(encoded), stream, bytes.size());
}

void ChannelRecorder::recordInput(std::int64_t t, std::string_view bytes) {
    if (options_.input == RecordingInput::none) {
        // Nothing written, but the chunk still waits its turn in the queue:
        // confirmations keep the order of the chunks.
        submit({}, Stream::in, bytes.size());
        return;
    }
    if (!terminal_) {
        // No pty, no echo to switch off: nothing here is a hidden prompt.
        submit(recording::recFrame(t, 'i', bytes), Stream::in, bytes.size());
        return;
    }
    if (options_.input == RecordingInput::sealedSecrets) {
        if (const std::size_t hidden = hidden_.input(bytes); hidden > 0) {
            // A character the encoder still holds was typed before the prompt.
            if (auto held = input_.finish(t); !held.empty())
                submit(std::move(held), std::nullopt, 0);
            sealHidden(t, bytes.substr(0, hidden));
            bytes.remove_prefix(hidden);
            if (bytes.empty()) return;
        }
    }
    submit(input_.encode(t, bytes), Stream::in, bytes.size());
}

void ChannelRecorder::sealHidden(std::int64_t t, std::string_view secret) {
    if (!options_.masterKey) return fail("hidden input cannot be sealed: no master key");
    recording::HiddenInputEntry entry;
    entry.event = events_ + 1;  // the placeholder's own index in the .cast
    entry.elapsedUs = t;
    entry.bytes = static_cast<std::int64_t>(secret.size());
    try {
        entry.sealed = options_.masterKey->seal(
            secret,
            recording::hiddenInputAssociatedData(meta_.sessionId, meta_.channel, entry.event));
    } catch (const std::exception& e) {
        return fail(std::string("hidden input cannot be sealed: ") + e.what());
    }
    std::string placeholder = recording::CastStreamEncoder('i').encode(
        t, recording::hiddenInputPlaceholder(secret.size()));
    ++events_;
    writer_.appendSecret(handle_, recording::hiddenInputLine(entry), std::move(placeholder),
                         confirm(Stream::in, secret.size()));
}

void ChannelRecorder::resize(int cols, int rows) {
    if (!terminal_ || closed_ || failed_ || !handle_) return;
    submit(recording::castResizeLine(elapsedUs(), cols, rows), std::nullopt, 0);
}

RecordingWriter::Done ChannelRecorder::confirm(std::optional<Stream> stream, std::size_t length) {
    return [state = state_, post = post_, stream, length](Result<bool> result) {
        post([state, stream, length, result = std::move(result)] {
            if (!result) {
                if (!state->error) state->error = result.error();
                return;
            }
            if (stream) state->confirmed[static_cast<std::size_t>(*stream)] += length;
        });
    };
}

void ChannelRecorder::submit(std::string bytes, std::optional<Stream> stream, std::size_t length) {
    // `bytes` may be empty (the encoder holds a character's first bytes until
    // the rest arrives, or input is not recorded): the job still goes through
    // the queue, so that confirmations keep the order of the chunks.
    if (terminal_ && !bytes.empty()) ++events_;  // one line, one event
    writer_.append(handle_, std::move(bytes), confirm(stream, length));
}

void ChannelRecorder::fail(const std::string& error) {
    // Reported like a write error: the bridge ends the channel. Nothing is
    // queued from now on, so no later confirmation can let the unsealed
    // bytes (still at the front of the bridge's buffer) pass.
    failed_ = true;
    post_([state = state_, error] {
        if (!state->error) state->error = error;
    });
}

std::size_t ChannelRecorder::takeConfirmed(Stream stream) {
    auto& n = state_->confirmed[static_cast<std::size_t>(stream)];
    const auto taken = n;
    n = 0;
    return taken;
}

void ChannelRecorder::close() {
    if (closed_ || !handle_) return;
    if (terminal_) {
        const auto t = elapsedUs();
        for (auto tail : {output_.finish(t), input_.finish(t)}) {
            if (tail.empty()) continue;
            ++events_;
            writer_.append(handle_, std::move(tail), {});
        }
    }
    closed_ = true;
    writer_.close(handle_, std::move(sealed_));
}

}  // namespace portcullis::gateway
