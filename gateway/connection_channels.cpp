// ClientConnection's channels: which opens and requests are accepted, the
// policy decision for each (SPEC §5), gateway commands, the target menu, and
// the rule that one connection reaches one target with one login.
#include <algorithm>
#include <memory>

#include "common/host_name.hpp"
#include "gateway/auth_messages.hpp"
#include "gateway/client_connection.hpp"
#include "gateway/client_connection_db.hpp"
#include "gateway/connection_text.hpp"
#include "gateway/gateway_commands.hpp"
#include "gateway/ssh_message_access.hpp"
#include "gateway/store_ops.hpp"

namespace portcullis::gateway {

void ClientConnection::handleChannelOpen(MessagePtr msg) {
    const int kind = ssh_message_subtype(msg.get());
    if ((kind != SSH_CHANNEL_SESSION && kind != SSH_CHANNEL_DIRECT_TCPIP) || draining_ ||
        bridges_.size() + pendingForwards_ >= static_cast<std::size_t>(config_.maxChannels)) {
        // X11, agent and remote (tcpip-forward) channels are never offered.
        log_.info("channel.refused", {{"conn", id_}, {"kind", kind}});
        ssh_message_reply_default(msg.get());
        return;
    }
    if (kind == SSH_CHANNEL_DIRECT_TCPIP) return openForward(std::move(msg));
    ssh_channel channel = ssh_message_channel_request_open_reply_accept(msg.get());
    if (!channel) return;
    bridges_.push_back(
        Slot{nextBridgeId_++,
             std::make_unique<ChannelBridge>(ChannelPtr(channel), config_.bufferHigh, log_, id_)});
}

// direct-tcpip: the policy decides (channel "forward") before the channel is
// accepted, so that a refusal is a clean open failure for the client.
void ClientConnection::openForward(MessagePtr msg) {
    const char* host = ssh_message_channel_request_open_destination(msg.get());
    const char* origin = ssh_message_channel_request_open_originator(msg.get());
    // The destination is used whole or not at all: a name cut to fit would be another host.
    const std::string wanted = host ? host : "";
    ChannelBridge::Forward destination{wanted,
                                       ssh_message_channel_request_open_destination_port(msg.get()),
                                       origin ? printable(origin) : std::string(),
                                       ssh_message_channel_request_open_originator_port(msg.get())};
    const bool validDestination =
        isValidHostName(wanted) && destination.port > 0 && destination.port <= 65535;
    if (!spec_ || spec_->target.empty() || !validDestination) {
        const std::string why = !validDestination ? "invalid destination" : "no target chosen";
        log_.info("channel.refused", {{"conn", id_}, {"kind", "direct-tcpip"}, {"reason", why}});
        if (!validDestination) {
            fireDb([account = auditName(), peer = peer_, shown = printable(wanted),
                    length = wanted.size(), port = destination.port](DbContext& ctx) {
                auditEvent(ctx, "forward.refused", account, peer,
                           {{"account", account},
                            {"destination", shown},
                            {"destination_length", length},
                            {"destination_port", port},
                            {"reason", "invalid destination"}});
            });
        }
        ssh_message_reply_default(msg.get());
        return;
    }
    ++pendingForwards_;
    db::AccessRequest request{spec_->account, spec_->login, spec_->target, db::Channel::forward,
                              systemNow()};
    request.source = peer_.address;
    request.destination = ForwardDestination{destination.host, destination.port};
    auto held = std::make_shared<MessagePtr>(std::move(msg));
    runDb<AccessOutcome>(
        [request, ceiling = config_.ceiling, peer = peer_](DbContext& ctx) {
            return decideAccess(ctx, request, ceiling, peer);
        },
        [this, held, request, destination](std::optional<AccessOutcome> outcome) {
            --pendingForwards_;
            const bool allowed = outcome && outcome->decision.allowed && !draining_;
            log_.info("policy.decision",
                      {{"conn", id_},
                       {"account", request.account},
                       {"target", request.target},
                       {"channel", "forward"},
                       {"destination", destination.host + ":" + std::to_string(destination.port)},
                       {"allowed", allowed}});
            if (outcome && !outcome->decision.forwardPatterns.empty()) {
                // The grant limits forwards (--forward-to) and this is not one of them.
                fireDb([account = request.account, peer = peer_, target = request.target,
                        destination, patterns = outcome->decision.forwardPatterns](DbContext& ctx) {
                    auditEvent(ctx, "forward.refused", account, peer,
                               {{"account", account},
                                {"target", target},
                                {"destination", destination.host},
                                {"destination_port", destination.port},
                                {"reason", "destination not allowed"},
                                {"allowed_destinations", patterns}});
                });
            }
            if (!allowed || boundElsewhere(*outcome)) {
                ssh_message_reply_default(held->get());
                return;
            }
            ssh_channel channel = ssh_message_channel_request_open_reply_accept(held->get());
            if (!channel) return;
            auto bridge =
                std::make_unique<ChannelBridge>(ChannelPtr(channel), config_.bufferHigh, log_, id_);
            bridge->forwardTo(destination);
            const auto bridgeId = nextBridgeId_++;
            bridges_.push_back(Slot{bridgeId, std::move(bridge)});
            fireDb([account = request.account, peer = peer_, target = request.target,
                    destination](DbContext& ctx) {
                auditEvent(ctx, "forward.open", account, peer,
                           {{"account", account},
                            {"target", target},
                            {"destination", destination.host},
                            {"destination_port", destination.port},
                            {"originator", destination.originHost},
                            {"originator_port", destination.originPort}});
            });
            admit(bridgeId, *outcome);
        },
        StoreFailureAudit{"policy.decision", policyFailureDetails(request)});
}

ChannelBridge* ClientConnection::findBridge(ssh_channel channel) {
    for (auto& slot : bridges_) {
        if (slot.bridge->down() == channel) return slot.bridge.get();
    }
    return nullptr;
}

ChannelBridge* ClientConnection::findBridge(std::uint64_t id) {
    for (auto& slot : bridges_) {
        if (slot.id == id) return slot.bridge.get();
    }
    return nullptr;
}

void ClientConnection::handleChannelRequest(MessagePtr msg) {
    ssh_message m = msg.get();
    ChannelBridge* bridge = findBridge(ssh_message_channel_request_channel(m));
    if (!bridge) {
        ssh_message_reply_default(m);
        return;
    }
    std::uint64_t bridgeId = 0;
    for (auto& slot : bridges_) {
        if (slot.bridge.get() == bridge) bridgeId = slot.id;
    }
    bool ok = false;
    bool decide = false;
    const int request = ssh_message_subtype(m);
    switch (request) {
        case SSH_CHANNEL_REQUEST_PTY:
            ok = bridge->onPty(messagePty(m));
            break;
        case SSH_CHANNEL_REQUEST_ENV: {
            const char* name = ssh_message_channel_request_env_name(m);
            const char* value = ssh_message_channel_request_env_value(m);
            ok = name && value && bridge->onEnv(name, value);
            break;
        }
        case SSH_CHANNEL_REQUEST_SHELL:
            ok = decide = bridge->onShell();
            break;
        case SSH_CHANNEL_REQUEST_EXEC: {
            const char* command = ssh_message_channel_request_command(m);
            ok = decide = command && bridge->onExec(command);
            break;
        }
        case SSH_CHANNEL_REQUEST_SUBSYSTEM: {
            const char* name = ssh_message_channel_request_subsystem(m);
            ok = decide = name && bridge->onSubsystem(name);
            break;
        }
        case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
            bridge->onWindowChange(messagePty(m));
            ok = true;
            break;
        default:
            // x11-req, auth-agent-req and anything unknown are refused here.
            log_.info("channel.request_refused", {{"conn", id_}, {"request", request}});
            break;
    }
    if (ok)
        ssh_message_channel_request_reply_success(m);
    else
        ssh_message_reply_default(m);
    if (decide) requestAccess(bridgeId);
}

// ---- access and upstream ------------------------------------------------------

void ClientConnection::requestAccess(std::uint64_t bridgeId) {
    ChannelBridge* bridge = findBridge(bridgeId);
    if (!bridge || !spec_) return;
    const std::string account = spec_->account;
    if (spec_->target.empty() && bridge->kind() == db::Channel::exec && bridge->command()) {
        // No target named: the exec request is a gateway command (SPEC §11).
        runDb<CommandOutput>(
            [account, line = *bridge->command(), peer = peer_](DbContext& ctx) {
                return runGatewayCommand(ctx, account, line, peer, systemNow());
            },
            [this, bridgeId](std::optional<CommandOutput> output) {
                ChannelBridge* b = findBridge(bridgeId);
                if (!b) return;
                if (!output)
                    return b->deny("the gateway cannot read its store; try again later", 1);
                b->respond(output->out, output->err, output->status);
            });
        return;
    }
    if (spec_->target.empty()) {
        runDb<std::vector<std::string>>(
            [account](DbContext& ctx) { return reachableTargets(ctx, account); },
            [this, bridgeId](std::optional<std::vector<std::string>> targets) {
                ChannelBridge* b = findBridge(bridgeId);
                if (!b) return;
                const auto names = targets.value_or(std::vector<std::string>{});
                if (b->hasPty() && b->kind() == db::Channel::shell && !names.empty()) {
                    menuTargets_ = names;
                    b->showMenu(menuText());
                    startMenuTimer(bridgeId);
                    return;
                }
                std::string list;
                for (const auto& t : names) list += (list.empty() ? "" : ", ") + t;
                b->deny("no target given: connect as " + spec_->account + ":TARGET or " +
                            spec_->account + ":LOGIN@TARGET; targets you may reach now: " +
                            (list.empty() ? "none" : list),
                        1);
            });
        return;
    }
    db::AccessRequest request{account, spec_->login, spec_->target, bridge->kind(), systemNow()};
    request.source = peer_.address;
    runDb<AccessOutcome>(
        [request, ceiling = config_.ceiling, peer = peer_](DbContext& ctx) {
            return decideAccess(ctx, request, ceiling, peer);
        },
        [this, bridgeId, request](std::optional<AccessOutcome> outcome) {
            ChannelBridge* b = findBridge(bridgeId);
            if (!b) return;
            const std::string login = outcome && !outcome->decision.login.empty()
                                          ? outcome->decision.login
                                          : request.login;
            const std::string where = (login.empty() ? std::string("the default login") : login) +
                                      " on " + request.target;
            const std::string channel = db::channelName(request.channel);
            if (!outcome) return b->deny("the gateway cannot read its store; try again later", 1);
            log_.info("policy.decision", {{"conn", id_},
                                          {"account", request.account},
                                          {"target", request.target},
                                          {"login", outcome->decision.login},
                                          {"channel", channel},
                                          {"allowed", outcome->decision.allowed}});
            if (!outcome->decision.allowed) {
                // What and why, for this request only (the user proved both factors).
                const auto& d = outcome->decision;
                if (d.lock) return b->deny(lockedText(*d.lock, request.account, peer_.address), 1);
                std::string why;
                for (const auto& r : d.reasons) why += (why.empty() ? "" : "; ") + r;
                return b->deny(
                    "access denied: " + request.account + " may not open " + channel + " as " +
                        where + (why.empty() ? "" : " (" + why + ")") +
                        (d.opensAt ? "; it may from " + clockTimeUtc(*d.opensAt, systemNow()) : ""),
                    1);
            }
            if (auto other = boundElsewhere(*outcome)) return b->deny(*other, 1);
            admit(bridgeId, *outcome);
        },
        StoreFailureAudit{"policy.decision", policyFailureDetails(request)});
}

// One connection reaches one target with one login (the first allowed
// decision connects the upstream): a decision that names another is refused,
// so that no channel ever runs on a target its decision did not name.
std::optional<std::string> ClientConnection::boundElsewhere(const AccessOutcome& outcome) const {
    if (!upstream_ || !outcome.target) return std::nullopt;
    if (upstream_->target().name == outcome.target->name &&
        upstream_->login() == outcome.decision.login) {
        return std::nullopt;
    }
    return "this connection already goes to " + upstream_->login() + "@" +
           upstream_->target().name + "; open a new connection for " + outcome.decision.login +
           "@" + outcome.target->name;
}

// An allowed channel: the first decision gives the session its limits
// (SPEC §5) and connects the upstream; the channel waits for it.
void ClientConnection::admit(std::uint64_t bridgeId, const AccessOutcome& outcome) {
    if (!limits_.grantId()) limits_.adopt(outcome.decision);
    if (!upstream_) startUpstream(*outcome.target, outcome.decision.login);
    allowed_.push_back(Allowed{bridgeId, outcome.target->name, outcome.decision.login});
}

std::string ClientConnection::menuText() const {
    std::string text = "\r\nPortcullis: targets " + spec_->account + " may reach now\r\n\r\n";
    for (std::size_t i = 0; i < menuTargets_.size(); ++i)
        text += "  " + std::to_string(i + 1) + ") " + menuTargets_[i] + "\r\n";
    text += "\r\nTarget (number or name, q to quit): ";
    return text;
}

void ClientConnection::startMenuTimer(std::uint64_t bridgeId) {
    menuTimer_.expires_after(config_.loginGraceTime);
    menuTimer_.async_wait(
        [self = shared_from_this(), bridgeId](const boost::system::error_code& ec) {
            if (ec || self->phase_ == Phase::closed) return;
            ChannelBridge* b = self->findBridge(bridgeId);
            if (b && b->stage() == ChannelBridge::Stage::menu) {
                b->deny("no target chosen in time", 1);
                self->step();
            }
        });
}

// A line typed at the menu: a number or a name from the list, or q.
void ClientConnection::menuChoice(std::uint64_t bridgeId, const std::string& line) {
    ChannelBridge* b = findBridge(bridgeId);
    if (!b) return;
    const auto first = line.find_first_not_of(' ');
    const std::string choice = first == std::string::npos
                                   ? ""
                                   : line.substr(first, line.find_last_not_of(' ') - first + 1);
    if (choice.empty()) return b->showMenu("Target (number or name, q to quit): ");
    if (choice == "q" || choice == "quit") {
        menuTimer_.cancel();
        return b->deny("no target chosen", 1);
    }
    std::optional<std::string> target;
    if (choice.find_first_not_of("0123456789") == std::string::npos && choice.size() < 6) {
        const auto n = static_cast<std::size_t>(std::stoul(choice));
        if (n >= 1 && n <= menuTargets_.size()) target = menuTargets_[n - 1];
    } else if (std::find(menuTargets_.begin(), menuTargets_.end(), choice) != menuTargets_.end()) {
        target = choice;
    }
    if (!target) {
        return b->showMenu("not in the list: " + printable(choice) +
                           "\r\nTarget (number or name, q to quit): ");
    }
    menuTimer_.cancel();
    // The first choice is the connection's target from then on, as if it had
    // been named in the user name; a second menu (another pty channel opened
    // before the first choice) may only confirm it.
    if (!spec_->target.empty() && spec_->target != *target) {
        log_.info("policy.decision", {{"conn", id_},
                                      {"account", spec_->account},
                                      {"target", *target},
                                      {"allowed", false},
                                      {"reason", "connection bound to " + spec_->target}});
        fireDb([account = spec_->account, peer = peer_, chosen = *target,
                bound = spec_->target](DbContext& ctx) {
            auditEvent(ctx, "policy.decision", account, peer,
                       {{"account", account},
                        {"target", chosen},
                        {"channel", "shell"},
                        {"allowed", false},
                        {"reasons", {"this connection already goes to " + bound}}});
        });
        return b->deny("this connection already goes to " + spec_->target +
                           "; open a new connection for " + *target,
                       1);
    }
    spec_->target = *target;
    b->leaveMenu();
    requestAccess(bridgeId);
}

}  // namespace portcullis::gateway
