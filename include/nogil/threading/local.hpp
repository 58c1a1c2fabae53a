#pragma once
// threading.local: a value of which every thread sees its own copy.

#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::threading {

namespace detail {

struct ThreadSlots;

/// The type-erased part of local<T>: which threads hold a value for this local. Each thread's
/// values sit in that thread's slot table; a process-wide lock orders "a thread exits" against
/// "a local is destroyed", so each value is destroyed exactly once, by whichever comes first.
class LocalBase {
public:
    LocalBase(const LocalBase&) = delete;
    LocalBase& operator=(const LocalBase&) = delete;

protected:
    LocalBase() noexcept = default;
    /// Destroys every thread's value (on the destroying thread).
    ~LocalBase();
    /// The calling thread's value, or nullptr if it has none yet.
    void* find() noexcept;
    /// Adopts `value` as the calling thread's value; `destroy` deletes it later.
    void insert(void* value, void (*destroy)(void*));

private:
    friend void release_thread_locals() noexcept;
    std::vector<ThreadSlots*> threads_;  // guarded by the process-wide locals lock
};

/// Destroys the calling thread's values of every local (on thread exit; repeats if a
/// destructor touches a local again).
void release_thread_locals() noexcept;

}  // namespace detail

/// Python's threading.local, typed: each thread that calls get() gets its own T, made on first
/// use in that thread (default-constructed, copied from an initial value, or returned by a
/// factory). A thread's T is destroyed on that thread when it exits (for threads started by
/// nogil: right after the target returns), or, for threads still alive, by ~local() on the
/// thread that destroys the local. No thread may use the local while it is being destroyed.
///
/// Thread safety: get() may be called from any thread at once; each thread sees only its own T.
/// Destroying the local while another thread uses it is undefined.
template <class T>
class local : private detail::LocalBase {
public:
    /// Each thread starts with T{}.
    local()
        requires std::default_initializable<T>
        : make_([] { return T{}; }) {}

    /// Each thread starts with a copy of `initial`.
    explicit local(T initial)
        requires std::copy_constructible<T>
        : make_([initial = std::move(initial)] { return initial; }) {}

    /// Each thread starts with `factory()`, called on that thread at its first get().
    template <class Factory>
        requires(std::is_invocable_r_v<T, Factory&> && !std::is_convertible_v<Factory, T>)
    explicit local(Factory factory) : make_(std::move(factory)) {}

    /// The calling thread's value (made now if this thread has none yet).
    T& get() {
        if (void* value = find()) return *static_cast<T*>(value);
        auto made = std::make_unique<T>(make_());
        insert(made.get(), [](void* value) { delete static_cast<T*>(value); });
        return *made.release();
    }
    /// Same as get().
    T& operator*() { return get(); }
    /// Same as &get().
    T* operator->() { return &get(); }

private:
    std::function<T()> make_;
};

}  // namespace nogil::threading
