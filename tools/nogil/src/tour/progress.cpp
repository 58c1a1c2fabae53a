#include "progress.hpp"

#include <fmt/format.h>
#include <watchdog/watchdog.hpp>

#include <algorithm>
#include <cstdio>
#include <sys/ioctl.h>
#include <unistd.h>

namespace nogil_tool {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

namespace {
// A step still running after 120 s (NOGIL_WATCHDOG_SECONDS) gets every thread's stack printed:
// a hung step leaves its cause on stderr. Never destroyed: a forked child that exits must not
// join a thread it does not have.
nogil_watchdog::StepWatchdog& step_watchdog() {
    static auto* dog = new nogil_watchdog::StepWatchdog;
    return *dog;
}
const std::chrono::seconds step_limit = nogil_watchdog::limit_from_environment(std::chrono::seconds(120));
}  // namespace

Progress::Progress(int total, bool terminal)
    : total_(total), terminal_(terminal), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::begin(const std::string& label) {
    ++done_;
    label_ = label;
    step_watchdog().begin("tour step " + label, step_limit);
    draw();
}

void Progress::note(const std::string& line) {
    if (terminal_) fmt::print(stderr, "\r\033[K");
    fmt::print(stderr, "{}\n", line);
    if (terminal_ && !finished_ && done_ >= 0) draw();
}

void Progress::draw() {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const int total = std::max(total_, 1);
    if (!terminal_) {
        fmt::print(stderr, "[{:>3}/{}] {:5.1f} s  {}\n", done_ + 1, total, elapsed, label_);
        return;
    }
    constexpr int width = 30;
    const int filled = std::min(width, done_ * width / total);
    const std::string bar = std::string(static_cast<std::size_t>(filled), '#') +
                            std::string(static_cast<std::size_t>(width - filled), '.');
    std::string line = fmt::format("[{}] {:>3}/{} {:5.1f} s  {}", bar, done_, total, elapsed, label_);
    // One line, never wrapped: "\r" can only redraw the line the cursor is on.
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 && line.size() >= size.ws_col)
        line.resize(size.ws_col - 1u);
    fmt::print(stderr, "\r\033[K{}", line);
    std::fflush(stderr);
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    step_watchdog().end();
    if (terminal_) {
        fmt::print(stderr, "\r\033[K");
        std::fflush(stderr);
    }
}

}  // namespace nogil_tool
