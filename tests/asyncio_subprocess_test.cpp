// Tests of <nogil/asyncio/subprocess.hpp>, after CPython's test_asyncio/test_subprocess.py.
#include <nogil/asyncio/subprocess.hpp>

#include <nogil/asyncio.hpp>
#include "asyncio/detail/child.hpp"

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace sp = nogil::asyncio::subprocess;
using namespace std::chrono_literals;

namespace {

/// True once `pid` is no longer our child (reaped by someone: here, the loop's watch).
bool reaped(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

TEST(AsyncioSubprocess, StdinStdoutThroughCat) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_exec("cat", {}, {.stdin = sp::PIPE, .stdout = sp::PIPE});
        EXPECT_GT(proc.pid(), 0);
        auto [out, err] = co_await proc.communicate("hello\nworld\n");
        EXPECT_EQ(out, "hello\nworld\n");
        EXPECT_EQ(err, "");
        EXPECT_EQ(proc.returncode(), 0);
        EXPECT_EQ(co_await proc.wait(), 0);
    }());
}

TEST(AsyncioSubprocess, StdinStdoutStreams) {
    run_bounded([]() -> asyncio::Coroutine<> {
        // CPython's test_stdin_stdout: write, drain, close stdin; read stdout to EOF.
        auto proc = co_await asyncio::create_subprocess_exec("cat", sp::Options{.stdin = sp::PIPE, .stdout = sp::PIPE});
        EXPECT_TRUE(proc.stdin && proc.stdout);
        EXPECT_FALSE(proc.stderr) << "stderr was not PIPE: Python's None";
        std::string data(100000, 'x');
        proc.stdin->write(data);
        co_await proc.stdin->drain();
        proc.stdin->close();
        std::string read = co_await proc.stdout->read();
        EXPECT_TRUE(read == data);
        EXPECT_EQ(co_await proc.wait(), 0);
    }());
}

TEST(AsyncioSubprocess, StdoutLineByLine) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_shell("for i in 1 2 3; do echo line $i; sleep 0.01; done",
                                                              {.stdout = sp::PIPE, .stderr = sp::PIPE});
        std::vector<std::string> lines;
        for (;;) {
            std::string line = co_await proc.stdout->readline();
            if (line.empty()) break;
            lines.push_back(line);
        }
        EXPECT_EQ(lines, (std::vector<std::string>{"line 1\n", "line 2\n", "line 3\n"}));
        EXPECT_EQ(co_await proc.stderr->read(), "");
        EXPECT_EQ(co_await proc.wait(), 0);
    }());
}

TEST(AsyncioSubprocess, CommunicateSeveralMiBBothWaysDoesNotDeadlock) {
    run_bounded([]() -> asyncio::Coroutine<> {
        // tee copies stdin to stdout and to stderr: 4 MiB in, 4 MiB out on each pipe, far more
        // than a pipe buffer, so a sequential write-then-read would block forever.
        std::string input;
        input.reserve(4u << 20);
        for (std::size_t i = 0; input.size() < (4u << 20); ++i) input += std::to_string(i) + '\n';
        auto proc = co_await asyncio::create_subprocess_shell(
            "tee /dev/stderr", {.stdin = sp::PIPE, .stdout = sp::PIPE, .stderr = sp::PIPE});
        auto [out, err] = co_await proc.communicate(input);
        EXPECT_EQ(out.size(), input.size());
        EXPECT_TRUE(out == input);
        EXPECT_TRUE(err == input);
        EXPECT_EQ(proc.returncode(), 0);
    }());
}

TEST(AsyncioSubprocess, ShellReturnCode) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_shell("exit 7");
        EXPECT_EQ(co_await proc.wait(), 7);
        EXPECT_EQ(proc.returncode(), 7);
    }());
}

TEST(AsyncioSubprocess, ReturncodeIsEmptyWhileRunning) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_exec("sleep", "30");
        EXPECT_EQ(proc.returncode(), std::nullopt);
        proc.kill();
        EXPECT_EQ(co_await proc.wait(), -SIGKILL);
    }());
}

TEST(AsyncioSubprocess, KillTerminateSendSignalGiveNegativeSignalNumbers) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto a = co_await asyncio::create_subprocess_exec("sleep", "30");
        auto b = co_await asyncio::create_subprocess_exec("sleep", "30");
        auto c = co_await asyncio::create_subprocess_exec("sleep", "30");
        a.kill();
        b.terminate();
        c.send_signal(SIGHUP);
        EXPECT_EQ(co_await a.wait(), -SIGKILL);
        EXPECT_EQ(co_await b.wait(), -SIGTERM);
        EXPECT_EQ(co_await c.wait(), -SIGHUP);
    }());
}

TEST(AsyncioSubprocess, SignalAfterExitIsProcessLookupError) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_exec("true");
        EXPECT_EQ(co_await proc.wait(), 0);
        EXPECT_THROW(proc.send_signal(SIGTERM), nogil::ProcessLookupError);
        EXPECT_THROW(proc.kill(), nogil::OSError);
    }());
}

TEST(AsyncioSubprocess, MissingProgramIsFileNotFoundError) {
    run_bounded([]() -> asyncio::Coroutine<> {
        for (std::string program : {"/nonexistent/program", "nogil-no-such-program-in-path"}) {
            try {
                (void)co_await asyncio::create_subprocess_exec(program, "x");
                ADD_FAILURE() << program << ": expected FileNotFoundError";
            } catch (const nogil::FileNotFoundError& e) {
                EXPECT_EQ(e.code().value(), ENOENT);
                EXPECT_NE(std::string(e.what()).find(program), std::string::npos) << e.what();
            }
        }
        // Not executable: an OSError (EACCES), still not a child exiting 126.
        EXPECT_THROW((void)co_await asyncio::create_subprocess_exec("/etc/hostname"), nogil::OSError);
        // A missing cwd is a FileNotFoundError that names the directory, not the program
        // (issue 14; Python's child reports the failed chdir: "No such file or directory:
        // '/nonexistent/dir'"), even when the program is missing too.
        for (std::string program : {"true", "nogil-no-such-program-in-path"}) {
            try {
                (void)co_await asyncio::create_subprocess_exec(program, {}, {.cwd = "/nonexistent/dir"});
                ADD_FAILURE() << "expected FileNotFoundError";
            } catch (const nogil::FileNotFoundError& e) {
                EXPECT_NE(std::string(e.what()).find("'/nonexistent/dir'"), std::string::npos) << e.what();
                EXPECT_EQ(std::string(e.what()).find(program), std::string::npos) << e.what();
            }
        }
        // A cwd that is a file: NotADirectoryError (an OSError with ENOTDIR), naming it.
        try {
            (void)co_await asyncio::create_subprocess_exec("true", {}, {.cwd = "/etc/hostname"});
            ADD_FAILURE() << "expected an OSError";
        } catch (const nogil::OSError& e) {
            EXPECT_EQ(e.code().value(), ENOTDIR);
            EXPECT_NE(std::string(e.what()).find("'/etc/hostname'"), std::string::npos) << e.what();
        }
    }());
}

TEST(AsyncioSubprocess, BadOptionsThrowInvalidArgument) {
    run_bounded([]() -> asyncio::Coroutine<> {
        EXPECT_THROW((void)co_await asyncio::create_subprocess_exec("true", {}, {.stdin = sp::STDOUT}), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::create_subprocess_exec("true", {}, {.stdout = sp::STDOUT}), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::create_subprocess_exec("true", {}, {.stderr = -7}), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::create_subprocess_exec(""), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::create_subprocess_shell(""), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::create_subprocess_exec("true", sp::Options{.limit = 0}), std::invalid_argument);
        auto proc = co_await asyncio::create_subprocess_exec("true");
        EXPECT_THROW((void)proc.communicate("input without a pipe"), std::invalid_argument);
        co_await proc.wait();
    }());
}

TEST(AsyncioSubprocess, CwdAndEnv) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto pwd = co_await asyncio::create_subprocess_exec("pwd", {}, {.stdout = sp::PIPE, .cwd = "/"});
        auto [out, err] = co_await pwd.communicate();
        EXPECT_EQ(out, "/\n");
        std::map<std::string, std::string> vars{{"NOGIL_TEST_VAR", "42"}};
        auto env = co_await asyncio::create_subprocess_exec("/bin/sh", "-c", "echo \"$NOGIL_TEST_VAR:$HOME\"",
                                                            sp::Options{.stdout = sp::PIPE, .env = &vars});
        auto [out2, err2] = co_await env.communicate();
        EXPECT_EQ(out2, "42:\n") << "only the given environment reaches the child";
    }());
}

TEST(AsyncioSubprocess, DevnullAndStderrToStdout) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto both = co_await asyncio::create_subprocess_shell("echo out; echo err >&2",
                                                              {.stdout = sp::PIPE, .stderr = sp::STDOUT});
        auto [out, err] = co_await both.communicate();
        EXPECT_EQ(out, "out\nerr\n");
        EXPECT_EQ(err, "");
        auto quiet = co_await asyncio::create_subprocess_shell(
            "read line; echo \"got:$line\"; echo err >&2",
            {.stdin = sp::DEVNULL, .stdout = sp::PIPE, .stderr = sp::DEVNULL});
        auto [out2, err2] = co_await quiet.communicate();
        EXPECT_EQ(out2, "got:\n") << "stdin is /dev/null: read sees EOF";
        EXPECT_EQ(err2, "");
    }());
}

TEST(AsyncioSubprocess, RedirectToAnFd) {
    run_bounded([]() -> asyncio::Coroutine<> {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        auto proc = co_await asyncio::create_subprocess_exec("echo", "to fd", sp::Options{.stdout = fds[1]});
        EXPECT_EQ(co_await proc.wait(), 0);
        ::close(fds[1]);
        char buf[32] = {};
        EXPECT_EQ(::read(fds[0], buf, sizeof buf), 6);
        EXPECT_STREQ(buf, "to fd\n");
        ::close(fds[0]);
    }());
}

TEST(AsyncioSubprocess, ChildInheritsNoOtherFds) {
    run_bounded([]() -> asyncio::Coroutine<> {
        int leaked = ::fcntl(0, F_DUPFD, 200);  // deliberately not CLOEXEC
        EXPECT_GE(leaked, 200);
        auto proc = co_await asyncio::create_subprocess_exec("ls", "/proc/self/fd", sp::Options{.stdout = sp::PIPE});
        auto [out, err] = co_await proc.communicate();
        ::close(leaked);
        EXPECT_EQ(out.find(std::to_string(leaked)), std::string::npos) << out;
        EXPECT_NE(out.find("0\n1\n2\n"), std::string::npos) << out;
    }());
}

TEST(AsyncioSubprocess, BrokenPipeOnStdinIsIgnored) {
    run_bounded([]() -> asyncio::Coroutine<> {
        // The child exits without reading: writing 2 MiB hits EPIPE, which is not an error
        // (and must not raise SIGPIPE, which would kill this test program).
        auto proc = co_await asyncio::create_subprocess_exec("true", {}, {.stdin = sp::PIPE});
        auto [out, err] = co_await proc.communicate(std::string(2u << 20, 'x'));
        EXPECT_EQ(proc.returncode(), 0);
    }());
}

TEST(AsyncioSubprocess, ReadStdoutAfterProcessExit) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_exec("echo", "late", sp::Options{.stdout = sp::PIPE});
        EXPECT_EQ(co_await proc.wait(), 0);
        auto [out, err] = co_await proc.communicate();
        EXPECT_EQ(out, "late\n");
    }());
}

TEST(AsyncioSubprocess, SeveralWaitersGetTheSameCode) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_shell("sleep 0.05; exit 3");
        auto a = asyncio::create_task(proc.wait());
        auto b = asyncio::create_task(proc.wait());
        EXPECT_EQ(co_await proc.wait(), 3);
        EXPECT_EQ(co_await a, 3);
        EXPECT_EQ(co_await b, 3);
    }());
}

TEST(AsyncioSubprocess, CancelledWaitLeavesNoZombie) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_exec("sleep", "30");
        auto waiting = asyncio::create_task(proc.wait());
        co_await asyncio::sleep(0);
        waiting.cancel();
        EXPECT_THROW(co_await waiting, nogil::CancelledError);
        EXPECT_EQ(proc.returncode(), std::nullopt);
        // A second wait still works after the first was cancelled.
        proc.kill();
        EXPECT_EQ(co_await proc.wait(), -SIGKILL);
        EXPECT_TRUE(reaped(proc.pid()));

        // Cancel the only wait of a child that exits by itself: the loop reaps it anyway.
        auto quick = co_await asyncio::create_subprocess_exec("true");
        auto w = asyncio::create_task(quick.wait());
        co_await asyncio::sleep(0);
        w.cancel();
        while (!quick.returncode()) co_await asyncio::sleep(1ms);  // bounded by run_bounded
        EXPECT_EQ(quick.returncode(), 0);
        EXPECT_TRUE(reaped(quick.pid()));
    }());
}

TEST(AsyncioSubprocess, DestroyedProcessIsStillReaped) {
    run_bounded([]() -> asyncio::Coroutine<> {
        pid_t pid;
        {
            auto proc = co_await asyncio::create_subprocess_exec("true", {}, {.stdout = sp::PIPE});
            pid = proc.pid();
        }
        while (!reaped(pid)) co_await asyncio::sleep(1ms);  // bounded by run_bounded
        SUCCEED();
    }());
}

TEST(AsyncioSubprocess, CancelledCommunicateKeepsTheChildReapable) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_exec("sleep", "30", sp::Options{.stdout = sp::PIPE});
        auto talk = asyncio::create_task(proc.communicate());  // no EOF on stdout until it dies
        co_await asyncio::sleep(1ms);
        talk.cancel();
        EXPECT_THROW(co_await talk, nogil::CancelledError);
        proc.kill();
        EXPECT_EQ(co_await proc.wait(), -SIGKILL);
    }());
}

TEST(AsyncioSubprocess, MovedProcessKeepsWorking) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto proc = co_await asyncio::create_subprocess_exec("echo", "moved", sp::Options{.stdout = sp::PIPE});
        auto talk = proc.communicate();
        sp::Process other = std::move(proc);
        auto [out, err] = co_await std::move(talk);
        EXPECT_EQ(out, "moved\n");
        EXPECT_EQ(other.returncode(), 0);
    }());
}

TEST(AsyncioSubprocess, StartNewSession) {
    run_bounded([]() -> asyncio::Coroutine<> {
        // Field 6 of /proc/<pid>/stat is the session id.
        auto sess = co_await asyncio::create_subprocess_shell("cut -d' ' -f6 /proc/$$/stat",
                                                              {.stdout = sp::PIPE, .start_new_session = true});
        auto [out, err] = co_await sess.communicate();
        EXPECT_EQ(out, std::to_string(sess.pid()) + "\n") << "the child leads its own session";
    }());
}

TEST(AsyncioSubprocess, ManyChildrenAtOnce) {
    run_bounded([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Coroutine<int>> waits;
        std::vector<sp::Process> procs;
        for (int i = 0; i < 20; ++i) procs.push_back(co_await asyncio::create_subprocess_shell("exit " + std::to_string(i)));
        for (auto& p : procs) waits.push_back(p.wait());
        std::vector<int> codes = co_await asyncio::gather(std::move(waits));
        for (int i = 0; i < 20; ++i) EXPECT_EQ(codes[static_cast<std::size_t>(i)], i);
    }());
}

TEST(AsyncioSubprocess, PollingFallbackWithoutPidfd) {
    // What a kernel without pidfd_open gets: waitpid(WNOHANG) on a growing timer.
    run_bounded([]() -> asyncio::Coroutine<> {
        namespace aio = nogil::asyncio::detail;
        aio::ChildSpec spec;
        spec.program = "/bin/sh";
        spec.argv = {"/bin/sh", "-c", "sleep 0.02; exit 5"};
        aio::SpawnedChild child = aio::spawn_child(spec);
        auto watch = aio::ChildWatch::start(asyncio::get_running_loop().core(), child.pid, false);
        EXPECT_FALSE(watch->uses_pidfd());
        auto first = watch->waiter();
        auto second = watch->waiter();
        EXPECT_EQ(co_await first, 5);
        EXPECT_EQ(co_await second, 5);
        EXPECT_EQ(watch->returncode(), 5);
        EXPECT_TRUE(reaped(child.pid));
        EXPECT_THROW(watch->send_signal(SIGTERM), nogil::ProcessLookupError);
    }());
}

}  // namespace
