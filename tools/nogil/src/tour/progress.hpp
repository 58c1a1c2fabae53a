#pragma once
// The live progress display, on stderr: a bar redrawn in place on a terminal, one plain line per
// step otherwise (a log file or CI shows every step, with no control characters).

#include <chrono>
#include <string>

namespace nogil_tool {

class Progress {
public:
    /// `total` steps; `terminal`: draw a bar (stderr is a TTY) or print lines.
    Progress(int total, bool terminal);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// Adds steps discovered later (the Python side announces its own).
    void add_steps(int n) { total_ += n; }
    /// A step begins: shown at once, counted as done by the next begin() or finish().
    void begin(const std::string& label);
    /// A line of its own (a warning), above the bar.
    void note(const std::string& line);
    /// Clears the bar; the tables follow.
    void finish();

private:
    void draw();
    int total_;
    int done_ = -1;
    bool terminal_;
    bool finished_ = false;
    std::string label_;
    std::chrono::steady_clock::time_point start_;
};

/// Whether stderr is a terminal.
bool stderr_is_terminal();

}  // namespace nogil_tool
