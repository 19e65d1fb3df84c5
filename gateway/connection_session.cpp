// ClientConnection's session: the connection to the target, the session
// row, each channel's recording and its seal (SPEC §6), and what channels
// report for the audit chain.
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

#include "gateway/client_connection.hpp"
#include "gateway/client_connection_db.hpp"
#include "gateway/store_ops.hpp"

namespace portcullis::gateway {
namespace {

std::string randomSessionId() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

}  // namespace

void ClientConnection::startUpstream(const db::Target& target, const std::string& login) {
    upstream_ = std::make_unique<Upstream>(strand_, log_, id_, target, login, services_.upstreamKey,
                                           services_.keysDir);
    auto self = shared_from_this();
    upstreamTimer_.expires_after(config_.upstreamTimeout);
    upstreamTimer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || !self->upstream_ || self->phase_ == Phase::closed) return;
        const auto state = self->upstream_->state();
        if (state == Upstream::State::ready || state == Upstream::State::failed) return;
        self->upstream_->fail(Upstream::Failure::timeout,
                              "timed out connecting to target " + self->upstream_->target().name);
        self->step();
    });
    upstream_->start([self] {
        if (self->phase_ != Phase::closed) self->step();
    });
}

void ClientConnection::advanceUpstream() {
    const auto state = upstream_->state();
    if (state == Upstream::State::handshaking || state == Upstream::State::authenticating)
        upstream_->advance();

    if (upstream_->state() == Upstream::State::ready) {
        upstreamTimer_.cancel();
        for (const auto& allowed : allowed_) {
            ChannelBridge* b = findBridge(allowed.bridgeId);
            if (!b || b->stage() != ChannelBridge::Stage::deciding) continue;
            // Never run a channel on a target its decision did not name.
            if (allowed.target != upstream_->target().name || allowed.login != upstream_->login()) {
                log_.error("policy.target_mismatch", {{"conn", id_},
                                                      {"decided", allowed.target},
                                                      {"upstream", upstream_->target().name}});
                b->deny("this connection already goes to " + upstream_->target().name, 1);
                continue;
            }
            if (!session_) startSessionRow(db::channelName(b->kind()));
            auto recorder = makeRecorder(*b, ++recordedChannels_);
            auto sealed = sealRecording(*recorder);
            if (b->hasPty()) b->notice(sessionBanner());
            b->startUpstream(upstream_->session(), std::move(recorder), std::move(sealed));
        }
        allowed_.clear();
        if (upstream_->broken()) {
            for (auto& slot : bridges_) slot.bridge->upstreamLost();
        }
        return;
    }
    if (upstream_->state() != Upstream::State::failed) return;

    const bool mismatch = upstream_->failure() == Upstream::Failure::hostKeyMismatch;
    if (!upstreamFailureAudited_) {
        upstreamFailureAudited_ = true;
        const auto& t = upstream_->target();
        nlohmann::json details{{"account", auditName()},
                               {"target", t.name},
                               {"host", t.host},
                               {"port", t.port},
                               {"login", upstream_->login()},
                               {"error", upstream_->failureMessage()}};
        if (mismatch) {
            details["pinned_fingerprint"] = t.hostKey.fingerprint();
            details["presented_fingerprint"] = upstream_->presentedFingerprint();
        }
        fireDb([type = std::string(mismatch ? "upstream.hostkey_mismatch" : "upstream.failed"),
                account = auditName(), peer = peer_,
                details](DbContext& ctx) { auditEvent(ctx, type, account, peer, details); });
    }
    // What the user may know: a pinned-key mismatch or a refused gateway key
    // in full; for network trouble only the category (addresses stay inside).
    const auto failure = upstream_->failure();
    const std::string message =
        (mismatch || failure == Upstream::Failure::authRejected)
            ? upstream_->failureMessage()
            : "cannot reach target " + upstream_->target().name +
                  (failure == Upstream::Failure::timeout ? " (timed out)" : " (connection failed)");
    for (const auto& allowed : allowed_) {
        if (ChannelBridge* b = findBridge(allowed.bridgeId)) b->deny(message, mismatch ? 1 : 255);
    }
    allowed_.clear();
    for (auto& slot : bridges_) {
        if (slot.bridge->stage() != ChannelBridge::Stage::deciding) slot.bridge->upstreamLost();
    }
}

void ClientConnection::startSessionRow(const std::string& channel) {
    db::SessionStart start;
    start.id = randomSessionId();
    start.account = spec_->account;
    start.login = upstream_->login();
    start.target = upstream_->target().name;
    start.grantId = limits_.grantId();
    start.source = peer_.address;
    start.gateway = services_.gatewayId;
    start.startedAt = systemNow();
    session_ = start;
    sessionChannel_ = channel == db::channelName(db::Channel::shell)  ? db::Channel::shell
                      : channel == db::channelName(db::Channel::sftp) ? db::Channel::sftp
                                                                      : db::Channel::exec;
    log_.info("session.start", {{"conn", id_},
                                {"session", start.id},
                                {"account", start.account},
                                {"login", start.login},
                                {"target", start.target}});
    fireDb([start, channel](DbContext& ctx) { startSession(ctx, start, channel); });
    limits_.start(std::chrono::steady_clock::now());
    checkLimits();
}

std::unique_ptr<ChannelRecorder> ClientConnection::makeRecorder(const ChannelBridge& bridge,
                                                                int channel) {
    recording::RecordingMeta meta;
    meta.sessionId = session_->id;
    meta.channel = channel;
    meta.account = session_->account;
    meta.login = session_->login;
    meta.target = session_->target;
    meta.source = peer_.address;
    meta.grantId = limits_.grantId();
    meta.kind = db::channelName(bridge.kind());
    meta.command = bridge.command();
    if (const auto& pty = bridge.pty()) {
        meta.term = pty->term;
        meta.width = static_cast<int>(pty->cols);
        meta.height = static_cast<int>(pty->rows);
    }
    meta.startedAtUnix = systemNow().time_since_epoch().count();
    meta.title = meta.account + "@" + meta.target + " as " + meta.login;
    // Terminal channels as asciicast, everything else byte-exact (SPEC §6).
    const bool terminal = bridge.hasPty();
    const std::string name = session_->id + (channel > 1 ? "-" + std::to_string(channel) : "") +
                             (terminal ? ".cast" : ".rec");
    const std::string relative = "recordings/" + name;

    db::RecordingRow row;
    row.sessionId = session_->id;
    row.channel = channel;
    row.kind = meta.kind;
    row.format = terminal ? "cast" : "rec";
    row.path = relative;
    row.startedAt = systemNow();
    fireDb([row](DbContext& ctx) { addRecording(ctx, row); });

    auto self = shared_from_this();
    auto postToStrand = [self](std::function<void()> fn) {
        boost::asio::post(self->strand_, [self, fn = std::move(fn)] {
            fn();
            if (self->phase_ != Phase::closed) self->step();
        });
    };
    ChannelRecorder::Options options;
    options.input = config_.recording.input;
    options.secretPrompts = config_.recording.secretPrompts;
    options.masterKey = &services_.db.masterKey();
    // On the writer thread: size and running digest into the audit chain, in
    // the connection's store order (SPEC §15).
    options.checkpointed = [sequence = dbSequence_, &log = log_, account = meta.account,
                            peer = peer_, sessionId = meta.sessionId, channel,
                            relative](const FileCheckpoint& checkpoint) {
        const bool queued = sequence->submit([=](DbContext& ctx) {
            auditRecordingCheckpoint(ctx, account, peer, sessionId, channel, relative, checkpoint);
        });
        if (!queued) log.error("db.queue_full", {{"session", sessionId}, {"event", "checkpoint"}});
    };
    return std::make_unique<ChannelRecorder>(services_.recordings, std::move(postToStrand),
                                             std::move(meta), services_.stateRoot / relative,
                                             terminal, std::move(options));
}

// Runs on the writer thread once the file is closed: its digest goes to the
// recording's row and to the audit chain, in the connection's store order.
RecordingWriter::Sealed ClientConnection::sealRecording(const ChannelRecorder& recorder) {
    const auto& meta = recorder.meta();
    return [sequence = dbSequence_, &log = log_, account = meta.account, peer = peer_,
            sessionId = meta.sessionId, channel = meta.channel,
            path = "recordings/" + recorder.file().filename().string()](Result<SealedFile> sealed) {
        const bool queued = sequence->submit([=](DbContext& ctx) {
            sealRecordingRow(ctx, account, peer, sessionId, channel, path, sealed);
        });
        if (!queued) log.error("db.queue_full", {{"session", sessionId}, {"event", "seal"}});
    };
}

void ClientConnection::auditChannelEvents(ChannelBridge& bridge) {
    const auto* recorder = bridge.recorder();
    if (!recorder) return;
    const auto& meta = recorder->meta();
    if (auto failure = bridge.takeRecordingFailure()) {
        fireDb([account = meta.account, peer = peer_, session = meta.sessionId,
                channel = meta.channel, error = *failure](DbContext& ctx) {
            auditEvent(ctx, "recording.failed", account, peer,
                       {{"account", account},
                        {"session_id", session},
                        {"channel", channel},
                        {"error", error},
                        {"action", "session ended"}});
        });
        // Fail closed: nothing more of this session can be recorded either
        // (a full disk), and its end names the cause, not the client leaving.
        if (session_ && !recordingFailed_) {
            recordingFailed_ = true;
            endLive(SessionEndStatus::failed, "recording failed: " + *failure, "",
                    "the session cannot be recorded (the gateway's disk may be full); it is ended",
                    nlohmann::json::object(), auditName());
        }
    }
    for (auto& op : bridge.takeSftpOperations()) {
        fireDb([account = meta.account, peer = peer_, session = meta.sessionId,
                channel = meta.channel, op = std::move(op)](DbContext& ctx) {
            auditSftpOperation(ctx, account, peer, session, channel, op);
        });
    }
}

}  // namespace portcullis::gateway
