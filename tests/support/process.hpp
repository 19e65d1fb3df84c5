#pragma once
// Test support: run a real program (the portcullis CLI, ssh, pamtester...) with
// arguments, environment additions and stdin, capture its output and exit code,
// and kill it if it runs past a deadline (a hang is a test failure, not a stuck CI).
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace portcullis::test {

struct ProcessResult {
    int exitCode = -1;  // -1 when killed by a signal or the deadline
    bool timedOut = false;
    std::string out;
    std::string err;
};

struct ProcessOptions {
    std::map<std::string, std::string> env;  // added to (or overriding) the current environment
    std::vector<std::string> unsetEnv;
    std::string input;  // written to stdin, then stdin is closed
    std::chrono::milliseconds timeout{30000};
    std::filesystem::path workDir;  // empty: current directory
    bool newSession = false;        // setsid() in the child (no controlling tty)
};

ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// For assertion messages: exit code, timeout, and the head of stdout and stderr.
std::string describe(const ProcessResult& result);
bool contains(const std::string& haystack, const std::string& needle);

// A directory under $TMPDIR removed with everything in it at destruction.
class TempDir {
  public:
    explicit TempDir(const std::string& prefix = "portcullis-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int freeLoopbackPort();

void writeFile(const std::filesystem::path& file, const std::string& content, int mode = 0600);
std::string readFile(const std::filesystem::path& file);
// In a forked child before exec: closes every descriptor above stderr.
void closeInheritedDescriptors();

}  // namespace portcullis::test
