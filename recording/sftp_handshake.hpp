#pragma once
// Whether a channel's client bytes start as an SFTP session does: an exec
// channel that runs `/usr/lib/openssh/sftp-server` (or any sftp server) as a
// command carries full SFTP, file transfers included, without being an sftp
// subsystem. The review commands name such a channel so that a reviewer sees
// it. The first packet of SFTP is SSH_FXP_INIT: uint32 length (5 and more),
// byte 1, uint32 version.
#include <string>
#include <string_view>

namespace portcullis::recording {

enum class SftpStart { yes, no, needMore };

// The first bytes the client sent on the channel (any number of them; fewer
// than 9 may not tell yet).
SftpStart sftpStart(std::string_view firstClientBytes);

// The same over a stream fed in order, split anywhere.
class SftpStartDetector {
  public:
    void input(std::string_view bytes);
    bool carriesSftp() const { return verdict_ == SftpStart::yes; }
    bool decided() const { return verdict_ != SftpStart::needMore; }

  private:
    std::string head_;
    SftpStart verdict_ = SftpStart::needMore;
};

}  // namespace portcullis::recording
