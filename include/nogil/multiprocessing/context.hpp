#pragma once
// Start methods: how a child process comes to be (Python's multiprocessing contexts).
//
//   "forkserver" (the default, as in Python 3.14 on Linux): a small server process, started once,
//       forks each child. Children start clean (only static initializers have run), so threads or
//       locks in the parent never leak into them.
//   "spawn": each child is a fresh exec of this program (/proc/self/exe); slowest, cleanest.
//   "fork": the child is a copy of the parent at the moment of start(); fastest, but only the
//       calling thread exists in the child (beware locks held by other threads).
//
// One line at the top of main() starts the fork server before the program makes any thread:
//
//   int main() { nogil::multiprocessing::set_start_method("forkserver"); ... }
//
// (Without it the server starts on first use, which also works: it is a fresh exec, never a fork
// of a threaded process.) Whatever the method, a task and its arguments always cross as bytes.

#include <nogil/multiprocessing/process.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nogil::multiprocessing {

/// Sets the default start method: "fork", "spawn" or "forkserver". Throws std::runtime_error if
/// a method was already set (unless force), std::invalid_argument for an unknown name.
/// Setting "forkserver" starts the fork server now.
void set_start_method(const std::string& method, bool force = false);

/// The default start method; fixes it to "forkserver" if none was set (Python's behaviour)
/// unless allow_none, in which case nullopt means "not set yet".
std::optional<std::string> get_start_method(bool allow_none);
std::string get_start_method();

/// {"forkserver", "spawn", "fork"}: the default first.
std::vector<std::string> get_all_start_methods();

/// Python's context object: the same API, bound to one start method.
///
/// Thread safety: immutable after construction: every member from any thread at once.
class Context {
public:
    explicit Context(std::string method) : method_(std::move(method)) {}
    /// This context's start method.
    const std::string& get_start_method() const noexcept { return method_; }
    /// A Process that starts with this context's method (same arguments as Process's constructor).
    template <class F, class... Args>
    multiprocessing::Process Process(F&& target, Args&&... args) const {
        return multiprocessing::Process(std::forward<F>(target), std::forward<Args>(args)...,
                                        ProcessOptions{.name = {}, .daemon = {}, .start_method = method_});
    }

private:
    std::string method_;
};

/// The context of `method` ("" = the default one). Throws std::invalid_argument for unknown names.
Context get_context(const std::string& method = "");

}  // namespace nogil::multiprocessing
