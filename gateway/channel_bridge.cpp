#include "gateway/channel_bridge.hpp"

#include <algorithm>

namespace portcullis::gateway {
namespace {

bool envAllowed(const std::string& name) {
    return name == "LANG" || name == "TERM" || name.rfind("LC_", 0) == 0;
}

bool requestDenied(ssh_session session) {
    return ssh_get_error_code(session) == SSH_REQUEST_DENIED;
}

}  // namespace

const char* stageName(ChannelBridge::Stage stage) {
    switch (stage) {
        case ChannelBridge::Stage::collecting:
            return "collecting";
        case ChannelBridge::Stage::deciding:
            return "deciding";
        case ChannelBridge::Stage::opening:
            return "opening";
        case ChannelBridge::Stage::requesting:
            return "requesting";
        case ChannelBridge::Stage::relaying:
            return "relaying";
        case ChannelBridge::Stage::menu:
            return "menu";
        case ChannelBridge::Stage::denying:
            return "denying";
        case ChannelBridge::Stage::finished:
            return "finished";
    }
    return "?";
}

ChannelBridge::ChannelBridge(ChannelPtr down, std::size_t bufferHigh, Logger& log,
                             std::uint64_t connId)
    : log_(log),
      connId_(connId),
      toUp_(bufferHigh),
      toDownOut_(bufferHigh),
      toDownErr_(bufferHigh),
      down_(std::move(down)) {
    ssh_callbacks_init(&downCallbacks_);
    downCallbacks_.userdata = this;
    downCallbacks_.channel_signal_function = &ChannelBridge::onDownSignal;
    ssh_set_channel_callbacks(down_.get(), &downCallbacks_);
}

ChannelBridge::~ChannelBridge() {
    // libssh may keep a closed channel until the peer's close arrives: it must
    // not call back into this object after it is gone.
    if (down_) ssh_remove_channel_callbacks(down_.get(), &downCallbacks_);
    if (up_ && upCallbacksSet_) ssh_remove_channel_callbacks(up_.get(), &upCallbacks_);
}

// ---- client requests -------------------------------------------------------

bool ChannelBridge::onPty(const PtyRequest& pty) {
    if (stage_ != Stage::collecting || pty_) return false;
    pty_ = pty;
    return true;
}

bool ChannelBridge::onEnv(const std::string& name, const std::string& value) {
    if (stage_ != Stage::collecting || !envAllowed(name) || env_.size() >= kMaxEnvVars)
        return false;
    env_.emplace_back(name, value);
    return true;
}

bool ChannelBridge::onShell() {
    if (stage_ != Stage::collecting) return false;
    stage_ = Stage::deciding;
    return true;
}

bool ChannelBridge::onExec(const std::string& command) {
    if (stage_ != Stage::collecting) return false;
    command_ = command;
    stage_ = Stage::deciding;
    return true;
}

bool ChannelBridge::onSubsystem(const std::string& name) {
    if (stage_ != Stage::collecting || name != "sftp") return false;
    sftp_ = true;
    sftpInspector_.emplace();
    stage_ = Stage::deciding;
    return true;
}

void ChannelBridge::forwardTo(Forward destination) {
    if (stage_ != Stage::collecting) return;
    forward_ = std::move(destination);
    stage_ = Stage::deciding;
}

void ChannelBridge::onWindowChange(const PtyRequest& size) {
    if (!pty_) return;
    if (recorder_) recorder_->resize(static_cast<int>(size.cols), static_cast<int>(size.rows));
    pty_->cols = size.cols;
    pty_->rows = size.rows;
    pty_->pxWidth = size.pxWidth;
    pty_->pxHeight = size.pxHeight;
    sizeChanged_ = true;
}

void ChannelBridge::onDownSignal(ssh_session, ssh_channel, const char* signal, void* self) {
    // No exception may cross into libssh.
    try {
        auto* b = static_cast<ChannelBridge*>(self);
        if (signal && b->signals_.size() < 16) b->signals_.emplace_back(signal);
    } catch (...) {
    }
}

void ChannelBridge::onUpExitStatus(ssh_session, ssh_channel, int status, void* self) {
    static_cast<ChannelBridge*>(self)->exitStatus_ = status;
}

void ChannelBridge::onUpExitSignal(ssh_session, ssh_channel, const char* signal, int core,
                                   const char* errmsg, const char* lang, void* self) {
    try {
        static_cast<ChannelBridge*>(self)->exitSignal_ =
            ExitSignal{signal ? signal : "KILL", core != 0, errmsg ? errmsg : "", lang ? lang : ""};
    } catch (...) {
    }
}

void ChannelBridge::onUpClose(ssh_session, ssh_channel, void* self) {
    static_cast<ChannelBridge*>(self)->upClosed_ = true;
}

// ---- decisions from the connection ----------------------------------------

void ChannelBridge::startUpstream(ssh_session upstream, std::unique_ptr<ChannelRecorder> recorder,
                                  RecordingWriter::Sealed sealed) {
    if (stage_ != Stage::deciding) return;
    recorder_ = std::move(recorder);
    // The recorder seals on every path, including its destruction when the
    // connection is torn down under a live channel (issue 12 finding 5).
    recorder_->sealWith(std::move(sealed));
    recorder_->start();
    for (const auto& line : std::exchange(pendingNotices_, {})) {
        (pty_ ? toDownOut_ : toDownErr_).append(line);
        recorder_->record(pty_ ? ChannelRecorder::Stream::out : ChannelRecorder::Stream::err, line);
    }
    upSession_ = upstream;
    up_.reset(ssh_channel_new(upstream));
    if (!up_) {
        deny("cannot open a channel on the target", 255);
        return;
    }
    stage_ = Stage::opening;
}

void ChannelBridge::deny(const std::string& message, int exitStatus) {
    if (stage_ == Stage::finished || stage_ == Stage::denying) return;
    denial_ = "portcullis: " + message + lineEnd();
    denialStatus_ = exitStatus;
    stage_ = Stage::denying;
}

void ChannelBridge::respond(const std::string& out, const std::string& err, int exitStatus) {
    if (stage_ == Stage::finished || stage_ == Stage::denying) return;
    // A terminal wants CR LF (no target's pty translates for us here).
    auto lines = [this](const std::string& text) {
        if (!pty_) return text;
        std::string crlf;
        for (const char c : text) {
            if (c == '\n') crlf += '\r';
            crlf += c;
        }
        return crlf;
    };
    answer_ = lines(out);
    denial_ = lines(err);
    denialStatus_ = exitStatus;
    stage_ = Stage::denying;
}

void ChannelBridge::upstreamLost() {
    if (stage_ == Stage::finished || stage_ == Stage::denying) return;
    if (stage_ == Stage::relaying && (exitStatus_ || exitSignal_)) {
        // The target already reported the exit: finish normally with what we have.
        upOutEof_ = upErrEof_ = upClosed_ = true;
        return;
    }
    deny("connection to the target was lost", 255);
}

void ChannelBridge::notice(const std::string& text) {
    // Delivered once relaying (it follows what the target already said).
    if (stage_ == Stage::finished || stage_ == Stage::denying) return;
    const std::string line = (pty_ ? "\r\n" : "") + std::string("portcullis: ") + text + lineEnd();
    // Recorded like the target's output: it passes once written (a notice
    // given before the recording exists waits for it).
    if (!recorder_) {
        if (pendingNotices_.size() < 4) pendingNotices_.push_back(line);
        return;
    }
    (pty_ ? toDownOut_ : toDownErr_).append(line);
    recorder_->record(pty_ ? ChannelRecorder::Stream::out : ChannelRecorder::Stream::err, line);
}

// ---- progress --------------------------------------------------------------

void ChannelBridge::advance() {
    // The client closed its channel (or its connection broke): close ours upstream.
    if (stage_ != Stage::finished && ssh_channel_is_closed(down_.get())) {
        // Until our own close, the client still takes the exit it waits for.
        if (stage_ == Stage::relaying && downEofSent_) sendExit();
        finish();
        return;
    }
    // A client flooding before the relay starts is caught here as well.
    if (stage_ != Stage::relaying && stage_ != Stage::finished &&
        overWindow(down_.get(), false, "client"))
        return;
    if (recorder_ && recorder_->error() && !recordingFailure_) {
        recordingFailed(*recorder_->error());
    }
    if (stage_ == Stage::opening) openUpstream();
    if (stage_ == Stage::requesting) replayRequests();
    if (stage_ == Stage::relaying) relay();
    if (stage_ == Stage::menu) runMenu();
    if (stage_ == Stage::denying) sendDenial();
}

void ChannelBridge::openUpstream() {
    const int rc =
        forward_ ? ssh_channel_open_forward(up_.get(), forward_->host.c_str(), forward_->port,
                                            forward_->originHost.c_str(), forward_->originPort)
                 : ssh_channel_open_session(up_.get());
    if (rc == SSH_AGAIN) return;
    if (rc != SSH_OK) {
        log_.warn("upstream.channel_open_failed",
                  {{"conn", connId_}, {"error", ssh_get_error(upSession_)}});
        if (forward_) {
            // A forwarding channel has no stderr to explain on: it just closes.
            finish();
            return;
        }
        deny("the target refused to open a session", 255);
        return;
    }
    ssh_callbacks_init(&upCallbacks_);
    upCallbacks_.userdata = this;
    upCallbacks_.channel_exit_status_function = &ChannelBridge::onUpExitStatus;
    upCallbacks_.channel_exit_signal_function = &ChannelBridge::onUpExitSignal;
    upCallbacks_.channel_close_function = &ChannelBridge::onUpClose;
    ssh_set_channel_callbacks(up_.get(), &upCallbacks_);
    upCallbacksSet_ = true;
    stage_ = Stage::requesting;
    requestStep_ = 0;
}

// pty-req, then each env, then shell or exec; each may take several rounds
// (SSH_AGAIN) and is called again with the same arguments until it completes.
void ChannelBridge::replayRequests() {
    ssh_channel up = up_.get();
    if (forward_) {
        // Nothing to ask for; bytes flow once the recording exists.
        if (recorder_->ready()) stage_ = Stage::relaying;
        return;
    }
    while (stage_ == Stage::requesting) {
        const std::size_t ptySteps = pty_ ? 1 : 0;
        int rc = SSH_OK;
        const char* what = "";
        if (requestStep_ < ptySteps) {
            what = "pty-req";
            sizeChanged_ = false;
            rc = ssh_channel_request_pty_size(up, pty_->term.empty() ? "xterm" : pty_->term.c_str(),
                                              pty_->cols, pty_->rows);
        } else if (requestStep_ < ptySteps + env_.size()) {
            what = "env";
            const auto& [name, value] = env_[requestStep_ - ptySteps];
            rc = ssh_channel_request_env(up, name.c_str(), value.c_str());
        } else {
            // Nothing starts on the target before its recording exists.
            if (!recorder_->ready()) return;
            what = sftp_ ? "subsystem" : command_ ? "exec" : "shell";
            rc = sftp_      ? ssh_channel_request_subsystem(up, "sftp")
                 : command_ ? ssh_channel_request_exec(up, command_->c_str())
                            : ssh_channel_request_shell(up);
        }
        if (rc == SSH_AGAIN) return;
        const bool last = requestStep_ == ptySteps + env_.size();
        if (rc != SSH_OK) {
            if (!requestDenied(upSession_)) {
                log_.warn(
                    "upstream.request_failed",
                    {{"conn", connId_}, {"request", what}, {"error", ssh_get_error(upSession_)}});
                deny("connection to the target failed", 255);
                return;
            }
            log_.info("upstream.request_denied", {{"conn", connId_}, {"request", what}});
            if (last) {
                deny(std::string("the target refused the ") + what + " request", 1);
                return;
            }
            // A refused pty-req or env is not fatal (OpenSSH carries on too).
        }
        if (last) {
            stage_ = Stage::relaying;
            log_.debug("bridge.relaying", {{"conn", connId_}});
            return;
        }
        ++requestStep_;
    }
}

ChannelBridge::ReadResult ChannelBridge::drain(ssh_channel from, bool isStderr,
                                               WatermarkBuffer& into, const char* side) {
    const int available = ssh_channel_poll(from, isStderr ? 1 : 0);
    if (available == SSH_EOF) return ReadResult::eof;
    if (available < 0) return ReadResult::error;
    if (available == 0) return ReadResult::none;
    const auto n = static_cast<std::size_t>(available);
    if (n > kPeerWindowLimit) {
        violation_ = true;
        violationSide_ = side;
        return ReadResult::error;
    }
    // All of it or nothing: a partial read would let libssh re-grow the
    // window on top of what it still holds (PLATFORM.md).
    char* dst = into.prepare(n);
    const int got =
        ssh_channel_read_nonblocking(from, dst, static_cast<std::uint32_t>(n), isStderr ? 1 : 0);
    into.commit(got > 0 ? static_cast<std::size_t>(got) : 0);
    if (got < 0) return ReadResult::error;
    return got > 0 ? ReadResult::data : ReadResult::none;
}

bool ChannelBridge::flush(WatermarkBuffer& from, std::size_t& sendable, ssh_channel to,
                          bool isStderr, bool& broken) {
    while (!from.empty()) {
        if (sendable == 0) return false;  // the rest is still being recorded
        const std::uint32_t window = ssh_channel_window_size(to);
        if (window == 0) return false;
        const auto len = static_cast<std::uint32_t>(
            std::min<std::size_t>({sendable, from.size(), window, kMaxWriteChunk}));
        const int written = isStderr ? ssh_channel_write_stderr(to, from.data(), len)
                                     : ssh_channel_write(to, from.data(), len);
        if (written < 0) {
            broken = true;
            return false;
        }
        from.consume(static_cast<std::size_t>(written));
        sendable -= static_cast<std::size_t>(written);
        if (static_cast<std::uint32_t>(written) < len) return false;  // backpressure
    }
    return true;
}

bool ChannelBridge::overWindow(ssh_channel from, bool isStderr, const char* side) {
    // While its reader is paused, what libssh holds for a channel can only
    // grow to the window it granted; beyond that the peer ignores flow control.
    const int held = ssh_channel_poll(from, isStderr ? 1 : 0);
    if (held > 0 && static_cast<std::size_t>(held) > kPeerWindowLimit) {
        violation_ = true;
        violationSide_ = side;
    }
    return violation_;
}

void ChannelBridge::relay() {
    ssh_channel down = down_.get();
    ssh_channel up = up_.get();
    bool broken = false;
    if ((toUp_.readPaused() && overWindow(down, false, "client")) ||
        (toDownOut_.readPaused() && overWindow(up, false, "target")) ||
        (toDownErr_.readPaused() && overWindow(up, true, "target"))) {
        return;
    }

    // Signals and size changes the client sent meanwhile (no reply wanted).
    while (!signals_.empty()) {
        ssh_channel_request_send_signal(up, signals_.front().c_str());
        signals_.pop_front();
    }
    if (sizeChanged_ && pty_) {
        sizeChanged_ = false;
        ssh_channel_change_pty_size(up, pty_->cols, pty_->rows);
    }

    pullConfirmed();
    // Client -> target (stdin). Once the target cannot take input any more,
    // the client's input is read and dropped so that the client never stalls.
    bool upBroken = false;
    flush(toUp_, sendUp_, up, false, upBroken);
    if (!downEof_ && !toUp_.readPaused()) {
        const auto before = toUp_.size();
        const auto result = drain(down, false, toUp_, "client");
        const std::string_view fresh(toUp_.data() + before, toUp_.size() - before);
        recorder_->record(ChannelRecorder::Stream::in, fresh);
        if (sftpInspector_ && !sftpInspector_->fromClient(fresh)) return sftpMalformed();
        switch (result) {
            case ReadResult::eof:
                downEof_ = true;
                break;
            case ReadResult::error:
                if (violation_) return;
                downEof_ = true;
                break;
            default:
                break;
        }
        bytesIn_ += toUp_.size() - before;
        flush(toUp_, sendUp_, up, false, upBroken);
    }
    if (upBroken || upInputClosed_) {
        // Dropped input was recorded all the same: it is what the user sent.
        upInputClosed_ = true;
        toUp_.consume(toUp_.size());
        sendUp_ = 0;
    }
    if (downEof_ && toUp_.empty() && !upEofSent_ && !upInputClosed_) {
        ssh_channel_send_eof(up);
        upEofSent_ = true;
    }

    // Target -> client (stdout, stderr).
    flush(toDownOut_, sendOut_, down, false, broken);
    flush(toDownErr_, sendErr_, down, true, broken);
    for (auto [isStderr, buffer, eof, sendable] :
         {std::tuple{false, &toDownOut_, &upOutEof_, &sendOut_},
          std::tuple{true, &toDownErr_, &upErrEof_, &sendErr_}}) {
        if (*eof || buffer->readPaused()) continue;
        const auto before = buffer->size();
        const auto result = drain(up, isStderr, *buffer, "target");
        const std::string_view fresh(buffer->data() + before, buffer->size() - before);
        recorder_->record(isStderr ? ChannelRecorder::Stream::err : ChannelRecorder::Stream::out,
                          fresh);
        if (sftpInspector_ && !isStderr && !sftpInspector_->fromServer(fresh))
            return sftpMalformed();
        switch (result) {
            case ReadResult::eof:
                *eof = true;
                break;
            case ReadResult::error:
                if (violation_) return;
                *eof = true;
                break;
            default:
                break;
        }
        bytesOut_ += buffer->size() - before;
        flush(*buffer, *sendable, down, isStderr, broken);
    }
    if (sftpInspector_) {
        for (auto& op : sftpInspector_->takeOperations()) sftpOperations_.push_back(std::move(op));
    }
    if (broken) {
        // The client's side cannot take data any more: nothing left to relay to.
        log_.debug("bridge.client_write_failed", {{"conn", connId_}});
        finish();
        return;
    }

    // EOF, exit-status and close go out together, as sshd sends them: OpenSSH
    // closes a channel as soon as EOF went both ways, and an exit-status sent
    // after that close would be lost.
    const bool outputDone = upOutEof_ && upErrEof_ && toDownOut_.empty() && toDownErr_.empty();
    const bool upDone = upClosed_ || ssh_channel_is_closed(up);
    if (outputDone && !downEofSent_ && (upDone || exitStatus_ || exitSignal_)) {
        downEofSent_ = true;
        ssh_channel_send_eof(down);
    }
    if (downEofSent_) sendExit();
    if (downEofSent_ && upDone) finish();
}

void ChannelBridge::sendExit() {
    if (exitSent_) return;
    if (exitSignal_) {
        exitSent_ = true;
        ssh_channel_request_send_exit_signal(
            down_.get(), exitSignal_->name.c_str(), exitSignal_->core ? 1 : 0,
            exitSignal_->message.c_str(), exitSignal_->lang.c_str());
    } else if (exitStatus_) {
        exitSent_ = true;
        ssh_channel_request_send_exit_status(down_.get(), *exitStatus_);
    }
}

void ChannelBridge::sendDenial() {
    ssh_channel down = down_.get();
    // What the target already said goes first (best effort, within the window).
    bool broken = false;
    pullConfirmed();
    if (!flush(toDownOut_, sendOut_, down, false, broken) ||
        !flush(toDownErr_, sendErr_, down, true, broken)) {
        if (!broken) return;
    }
    if (forward_) {
        // A forwarded connection has no stderr or exit status: it just closes.
        finish();
        return;
    }
    if (!answer_.empty()) {
        const std::uint32_t window = ssh_channel_window_size(down);
        if (window == 0) return;
        const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(answer_.size(), window));
        const int written = ssh_channel_write(down, answer_.data(), len);
        if (written < 0) {
            finish();
            return;
        }
        answer_.erase(0, static_cast<std::size_t>(written));
        if (!answer_.empty()) return;
    }
    if (!denial_.empty()) {
        const std::uint32_t window = ssh_channel_window_size(down);
        if (window == 0) return;
        const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(denial_.size(), window));
        const int written = ssh_channel_write_stderr(down, denial_.data(), len);
        if (written < 0) {
            finish();
            return;
        }
        denial_.erase(0, static_cast<std::size_t>(written));
        if (!denial_.empty()) return;
    }
    ssh_channel_request_send_exit_status(down, denialStatus_);
    finish();
}

void ChannelBridge::finish() {
    if (stage_ == Stage::finished) return;
    stage_ = Stage::finished;
    if (recorder_) recorder_->close();
    // EOF first (a second call completes a close whose EOF flush was pending
    // in non-blocking mode), then close; libssh frees each channel once both
    // sides closed it.
    if (up_) {
        ssh_channel_send_eof(up_.get());
        ssh_channel_close(up_.get());
    }
    ssh_channel_send_eof(down_.get());
    ssh_channel_close(down_.get());
}

void ChannelBridge::pullConfirmed() {
    if (!recorder_) return;
    sendUp_ += recorder_->takeConfirmed(ChannelRecorder::Stream::in);
    sendOut_ += recorder_->takeConfirmed(ChannelRecorder::Stream::out);
    sendErr_ += recorder_->takeConfirmed(ChannelRecorder::Stream::err);
}

// Fail closed (SPEC §6): what was not recorded never passes; the user is told
// why and the channel ends.
void ChannelBridge::recordingFailed(const std::string& error) {
    recordingFailure_ = error;
    pullConfirmed();
    toUp_.truncate(sendUp_);
    toDownOut_.truncate(sendOut_);
    toDownErr_.truncate(sendErr_);
    log_.warn("recording.failed", {{"conn", connId_}, {"error", error}});
    deny("the session cannot be recorded (the gateway's disk may be full); it is ended", 255);
}

void ChannelBridge::sftpMalformed() {
    log_.warn("sftp.malformed", {{"conn", connId_}, {"error", sftpInspector_->error()}});
    for (auto& op : sftpInspector_->takeOperations()) sftpOperations_.push_back(std::move(op));
    deny("the sftp stream is malformed (" + sftpInspector_->error() + "); the channel is closed",
         255);
}

std::optional<std::string> ChannelBridge::takeRecordingFailure() {
    if (!recordingFailure_ || recordingFailureTaken_) return std::nullopt;
    recordingFailureTaken_ = true;
    return recordingFailure_;
}

std::vector<recording::SftpOperation> ChannelBridge::takeSftpOperations() {
    return std::exchange(sftpOperations_, {});
}

void ChannelBridge::showMenu(const std::string& text) {
    if (stage_ != Stage::deciding && stage_ != Stage::menu) return;
    stage_ = Stage::menu;
    menuLine_.clear();
    toDownOut_.append(text);
    sendOut_ += text.size();  // the gateway's own words: nothing to record
}

std::optional<std::string> ChannelBridge::takeMenuLine() {
    return std::exchange(menuChoice_, std::nullopt);
}

void ChannelBridge::leaveMenu() {
    if (stage_ == Stage::menu) stage_ = Stage::deciding;
}

void ChannelBridge::runMenu() {
    ssh_channel down = down_.get();
    bool broken = false;
    flush(toDownOut_, sendOut_, down, false, broken);
    if (broken) return finish();
    if (menuChoice_) return;  // the connection has not taken the last line yet
    char input[64];
    const int n = ssh_channel_read_nonblocking(down, input, sizeof input, 0);
    if (n == SSH_EOF || n < 0 || (n == 0 && ssh_channel_is_eof(down))) {
        menuChoice_ = "q";
        return;
    }
    std::string echo;
    for (int i = 0; i < n && !menuChoice_; ++i) {
        const char c = input[i];
        if (c == '\r' || c == '\n') {
            echo += "\r\n";
            menuChoice_ = menuLine_;
        } else if (c == 0x03 || c == 0x04) {  // Ctrl-C, Ctrl-D
            echo += "\r\n";
            menuChoice_ = "q";
        } else if (c == 0x7f || c == '\b') {
            if (!menuLine_.empty()) {
                menuLine_.pop_back();
                echo += "\b \b";
            }
        } else if (c >= 0x20 && c < 0x7f && menuLine_.size() < 64) {
            menuLine_ += c;
            echo += c;
        }
    }
    if (menuChoice_) menuLine_.clear();
    toDownOut_.append(echo);
    sendOut_ += echo.size();
    flush(toDownOut_, sendOut_, down, false, broken);
}

}  // namespace portcullis::gateway
