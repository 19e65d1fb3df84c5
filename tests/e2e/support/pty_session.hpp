#pragma once
// A program run on a pseudo-terminal, driven like a person at a keyboard: the
// test sends keystrokes and waits (with a deadline) for text to appear, as
// `expect` does. For the stock ssh client with `-tt`, so that the target
// sees a real terminal (echo off at password prompts, bash's line editor).
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::test {

class PtySession {
  public:
    // argv[0] is looked up in PATH; env is added to (or overrides) ours,
    // unsetEnv removed. The terminal is cols x rows.
    PtySession(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::vector<std::string>& unsetEnv = {}, int cols = 100, int rows = 30);
    ~PtySession();  // SIGKILL if still running
    PtySession(const PtySession&) = delete;
    PtySession& operator=(const PtySession&) = delete;

    void send(std::string_view keys);
    // Waits for `text` in what the terminal showed after the previous match;
    // false at the deadline (or when the program ended without it).
    bool expect(const std::string& text,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Everything the terminal showed so far.
    const std::string& output() const { return output_; }
    pid_t pid() const { return pid_; }
    void kill(int signal);
    // Waits for the program to end: its exit code, -1 for a signal or the deadline.
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  private:
    // Reads what is there within `timeout`; false once the terminal is closed.
    bool readSome(std::chrono::milliseconds timeout);

    int master_ = -1;
    pid_t pid_ = -1;
    bool closed_ = false;
    std::string output_;
    std::size_t cursor_ = 0;
};

}  // namespace portcullis::test
