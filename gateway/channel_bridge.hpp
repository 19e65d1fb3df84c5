#pragma once
// ChannelBridge: one client "session" channel paired with one channel to the
// target. It collects the client's requests (pty-req, env, shell/exec), replays
// them upstream once the connection decided and connected, then relays data
// both ways with bounded buffers, half-closes (EOF) in order, and ends with the
// target's exit-status / exit-signal followed by close. Runs on its
// connection's strand only.
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ssh_handles.hpp"
#include "db/grants.hpp"
#include "gateway/channel_recorder.hpp"
#include "gateway/log.hpp"
#include "gateway/ssh_message_access.hpp"
#include "gateway/watermark_buffer.hpp"
#include "recording/sftp_inspector.hpp"

namespace portcullis::gateway {

// libssh 0.10 grows a channel's window back to 1,280,000 bytes (WINDOWBASE)
// once it falls under half of that; a peer that respects the window can have
// at most that much (plus the initial window and a packet in flight) sitting
// in libssh's buffer when we drain it whole. More is a peer ignoring flow control.
inline constexpr std::size_t kLibsshWindowBase = 1'280'000;
inline constexpr std::size_t kPeerWindowLimit = kLibsshWindowBase + 64'000 + 2 * 35'000;
inline constexpr std::size_t kMaxWriteChunk = 256 * 1024;
inline constexpr std::size_t kMaxEnvVars = 32;

class ChannelBridge {
  public:
    enum class Stage {
        collecting,  // waiting for shell/exec
        deciding,    // policy and upstream in progress (connection's job)
        opening,     // opening the channel on the target
        requesting,  // replaying pty-req, env, shell/exec on the target
        relaying,
        menu,     // no target named: the user picks one (pty only)
        denying,  // telling the client why, then exit-status and close
        finished,
    };

    ChannelBridge(ChannelPtr down, std::size_t bufferHigh, Logger& log, std::uint64_t connId);
    ~ChannelBridge();
    ChannelBridge(const ChannelBridge&) = delete;
    ChannelBridge& operator=(const ChannelBridge&) = delete;

    ssh_channel down() const { return down_.get(); }
    Stage stage() const { return stage_; }
    bool finished() const { return stage_ == Stage::finished; }

    // Client requests; the return value is the reply (true = success).
    bool onPty(const PtyRequest& pty);
    bool onEnv(const std::string& name, const std::string& value);
    bool onShell();
    bool onExec(const std::string& command);
    bool onSubsystem(const std::string& name);  // "sftp" only
    // A direct-tcpip channel (port forwarding) the policy allowed: no
    // requests; the target connects to host:port.
    struct Forward {
        std::string host;
        int port = 0;
        std::string originHost;
        int originPort = 0;
    };
    void forwardTo(Forward destination);
    const std::optional<Forward>& forward() const { return forward_; }
    void onWindowChange(const PtyRequest& size);

    db::Channel kind() const {
        return forward_   ? db::Channel::forward
               : sftp_    ? db::Channel::sftp
               : command_ ? db::Channel::exec
                          : db::Channel::shell;
    }
    const std::optional<std::string>& command() const { return command_; }
    bool hasPty() const { return pty_.has_value(); }
    const std::optional<PtyRequest>& pty() const { return pty_; }

    // The connection's decision: record the channel (the file is created
    // before the shell or command starts on the target; `sealed` gets the
    // file's digest when it closes, however the channel ends) and open it on
    // this target session...
    void startUpstream(ssh_session upstream, std::unique_ptr<ChannelRecorder> recorder,
                       RecordingWriter::Sealed sealed);
    const ChannelRecorder* recorder() const { return recorder_.get(); }
    // Why the recording failed, once (the connection audits it).
    std::optional<std::string> takeRecordingFailure();
    // SFTP file operations seen since the last call (sftp channels).
    std::vector<recording::SftpOperation> takeSftpOperations();
    // ...or refuse: one line on the client's stderr, exit-status, close.
    void deny(const std::string& message, int exitStatus = 1);
    // ...or answer it from the gateway itself (a gateway command): `out` on
    // stdout, `err` on stderr, exit-status, close. Nothing reaches a target.
    void respond(const std::string& out, const std::string& err, int exitStatus);

    // The target menu (SPEC §3: `ssh alice@gw` with a pty). The gateway talks
    // to the user itself: `text` is shown, one line is read back with echo and
    // backspace; Ctrl-C, Ctrl-D or end of input read as "q". Nothing here is
    // relayed or recorded (no target is involved yet).
    void showMenu(const std::string& text);
    std::optional<std::string> takeMenuLine();
    // Back to deciding once the connection accepted the choice.
    void leaveMenu();

    // Makes whatever progress is possible now; never blocks.
    void advance();

    // A peer sent more than its window allows (the caller disconnects and audits).
    bool windowViolation() const { return violation_; }
    std::string violationSide() const { return violationSide_; }
    std::uint64_t bytesIn() const { return bytesIn_; }
    std::uint64_t bytesOut() const { return bytesOut_; }
    // A line for the user (time limit notices): on the terminal with a pty,
    // on stderr without.
    void notice(const std::string& text);
    // The upstream channel failed in a way the client should hear about.
    void upstreamLost();

  private:
    enum class ReadResult { none, data, eof, error };

    void openUpstream();
    void replayRequests();
    void relay();
    void sendDenial();
    void runMenu();
    void recordingFailed(const std::string& error);
    void sftpMalformed();
    void pullConfirmed();
    void sendExit();
    void finish();
    ReadResult drain(ssh_channel from, bool isStderr, WatermarkBuffer& into, const char* side);
    bool overWindow(ssh_channel from, bool isStderr, const char* side);
    // Sends at most `sendable` bytes (those recorded) and lowers it by what went.
    bool flush(WatermarkBuffer& from, std::size_t& sendable, ssh_channel to, bool isStderr,
               bool& broken);
    std::string lineEnd() const { return pty_ ? "\r\n" : "\n"; }

    static void onDownSignal(ssh_session, ssh_channel, const char* signal, void* self);
    static void onUpExitStatus(ssh_session, ssh_channel, int status, void* self);
    static void onUpExitSignal(ssh_session, ssh_channel, const char* signal, int core,
                               const char* errmsg, const char* lang, void* self);
    static void onUpClose(ssh_session, ssh_channel, void* self);

    Logger& log_;
    std::uint64_t connId_;
    Stage stage_ = Stage::collecting;

    // Requests collected from the client.
    std::optional<PtyRequest> pty_;
    bool sizeChanged_ = false;
    std::vector<std::pair<std::string, std::string>> env_;
    std::optional<std::string> command_;
    bool sftp_ = false;
    std::optional<Forward> forward_;
    std::deque<std::string> signals_;
    std::size_t requestStep_ = 0;

    // Relay state: buffers per direction, half-close flags, the exit.
    WatermarkBuffer toUp_;
    WatermarkBuffer toDownOut_;
    WatermarkBuffer toDownErr_;
    // How many bytes at the front of each buffer were recorded and may pass.
    std::size_t sendUp_ = 0;
    std::size_t sendOut_ = 0;
    std::size_t sendErr_ = 0;
    std::unique_ptr<ChannelRecorder> recorder_;
    std::vector<std::string> pendingNotices_;
    std::string menuLine_;
    std::optional<std::string> menuChoice_;
    std::optional<std::string> recordingFailure_;
    bool recordingFailureTaken_ = false;
    std::optional<recording::SftpInspector> sftpInspector_;
    std::vector<recording::SftpOperation> sftpOperations_;
    bool downEof_ = false;  // client sent EOF (and libssh's buffer is drained)
    bool upOutEof_ = false;
    bool upErrEof_ = false;
    bool upEofSent_ = false;
    bool downEofSent_ = false;
    bool exitSent_ = false;
    bool upClosed_ = false;       // target closed its channel
    bool upInputClosed_ = false;  // target channel no longer takes stdin
    std::optional<int> exitStatus_;
    struct ExitSignal {
        std::string name;
        bool core = false;
        std::string message;
        std::string lang;
    };
    std::optional<ExitSignal> exitSignal_;
    std::string answer_;  // stdout of a gateway command, sent before denial_
    std::string denial_;
    int denialStatus_ = 1;
    bool violation_ = false;
    std::string violationSide_;
    std::uint64_t bytesIn_ = 0;
    std::uint64_t bytesOut_ = 0;

    // libssh keeps pointers to these: declared before the channels, so that
    // the channels are freed first.
    ssh_channel_callbacks_struct downCallbacks_{};
    ssh_channel_callbacks_struct upCallbacks_{};
    bool upCallbacksSet_ = false;
    ssh_session upSession_ = nullptr;  // borrowed from the connection's Upstream
    ChannelPtr down_;
    ChannelPtr up_;
};

const char* stageName(ChannelBridge::Stage stage);

}  // namespace portcullis::gateway
