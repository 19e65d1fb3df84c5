#pragma once
// A long-running program for end-to-end tests (sshd, portcullisd): started
// with its stdout/stderr going to a file, stopped with a signal and a deadline,
// killed at destruction if still running.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace portcullis::test {

class BackgroundProcess {
  public:
    BackgroundProcess() = default;
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    // extraEnv: "NAME=VALUE" entries added to this process's environment.
    void start(const std::vector<std::string>& argv, const std::filesystem::path& logFile,
               const std::vector<std::string>& extraEnv = {});
    // Sends `signal`, waits up to `timeout`; returns the exit code (-1: signal
    // or had to be killed).
    int stop(int signal, std::chrono::milliseconds timeout);
    bool running();
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
    int status_ = 0;
};

// Waits until something accepts TCP connections on 127.0.0.1:port.
bool waitForPort(int port, std::chrono::milliseconds timeout);
// Peak resident set size (VmHWM) of a process in KiB, -1 if unknown.
long peakRssKib(pid_t pid);

}  // namespace portcullis::test
