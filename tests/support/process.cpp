#include "tests/support/process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace portcullis::test {
namespace fs = std::filesystem;
namespace {

struct Pipe {
    int fds[2] = {-1, -1};
    Pipe() {
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    }
    ~Pipe() { closeBoth(); }
    void closeRead() { closeFd(fds[0]); }
    void closeWrite() { closeFd(fds[1]); }
    void closeBoth() {
        closeRead();
        closeWrite();
    }
    static void closeFd(int& fd) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

std::vector<std::string> buildEnv(const ProcessOptions& options) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& name : options.unsetEnv) env.erase(name);
    for (const auto& [k, v] : options.env) env[k] = v;
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

}  // namespace

ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
    // A child that exits before reading all its input must not kill the test with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    Pipe in, out, err;
    auto envStrings = buildEnv(options);
    std::vector<char*> envp;
    for (auto& s : envStrings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::signal(SIGPIPE, SIG_DFL);
        if (options.newSession) ::setsid();
        ::dup2(in.fds[0], 0);
        ::dup2(out.fds[1], 1);
        ::dup2(err.fds[1], 2);
        closeInheritedDescriptors();
        if (!options.workDir.empty() && ::chdir(options.workDir.c_str()) != 0) _exit(126);
        ::execvpe(argp[0], argp.data(), envp.data());
        _exit(127);
    }
    in.closeRead();
    out.closeWrite();
    err.closeWrite();

    ProcessResult result;
    std::size_t written = 0;
    if (options.input.empty())
        in.closeWrite();
    else
        ::fcntl(in.fds[1], F_SETFL, O_NONBLOCK);
    ::fcntl(out.fds[0], F_SETFL, O_NONBLOCK);
    ::fcntl(err.fds[0], F_SETFL, O_NONBLOCK);

    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    char buf[65536];
    while (out.fds[0] >= 0 || err.fds[0] >= 0) {
        std::vector<pollfd> pfds;
        if (out.fds[0] >= 0) pfds.push_back({out.fds[0], POLLIN, 0});
        if (err.fds[0] >= 0) pfds.push_back({err.fds[0], POLLIN, 0});
        if (in.fds[1] >= 0) pfds.push_back({in.fds[1], POLLOUT, 0});
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timedOut = true;
            break;
        }
        if (::poll(pfds.data(), pfds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR)
            break;
        for (const auto& p : pfds) {
            if (!p.revents) continue;
            if (p.fd == in.fds[1]) {
                const ssize_t n =
                    ::write(p.fd, options.input.data() + written, options.input.size() - written);
                if (n > 0) written += static_cast<std::size_t>(n);
                if (n < 0 && errno != EAGAIN) written = options.input.size();
                if (written >= options.input.size()) in.closeWrite();
                continue;
            }
            const ssize_t n = ::read(p.fd, buf, sizeof buf);
            if (n > 0) {
                (p.fd == out.fds[0] ? result.out : result.err)
                    .append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EAGAIN) {
                if (p.fd == out.fds[0])
                    out.closeRead();
                else
                    err.closeRead();
            }
        }
    }
    int status = 0;
    if (result.timedOut) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return result;
    }
    // Output closed: the child (or what it left holding the pipes) is done; wait with the deadline.
    while (true) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            result.timedOut = true;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return result;
        }
        ::usleep(2000);
    }
    result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

std::string describe(const ProcessResult& result) {
    constexpr std::size_t kShown = 8000;
    return "exit=" + std::to_string(result.exitCode) + (result.timedOut ? " (timed out)" : "") +
           "\nstdout:\n" + result.out.substr(0, kShown) + "\nstderr:\n" +
           result.err.substr(0, kShown);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

TempDir::TempDir(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

int freeLoopbackPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

// O_CLOEXEC: a child another thread forks meanwhile must not keep the file
// open for writing, or executing it (an askpass script) fails with ETXTBSY for
// as long as that child lives.
void writeFile(const fs::path& file, const std::string& content, int mode) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(errno));
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(errno));
        }
        written += static_cast<std::size_t>(n);
    }
    ::close(fd);
    ::chmod(file.c_str(), static_cast<mode_t>(mode));
}

void closeInheritedDescriptors() {
    // Whatever another thread had open when this child was forked (without
    // O_CLOEXEC, or between its open and fcntl) is not the child's to keep.
    ::close_range(3, ~0U, 0);
}

std::string readFile(const fs::path& file) {
    std::ifstream f(file, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace portcullis::test
