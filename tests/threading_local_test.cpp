// nogil::threading::local<T>, after CPython's Lib/test/test_threading_local.py.
#include <nogil/threading/event.hpp>
#include <nogil/threading/local.hpp>
#include <nogil/threading/thread.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using nogil::threading::Event;
using nogil::threading::local;
using nogil::threading::Thread;

template <class F>
void in_nogil_thread(F f) {
    Thread t(std::move(f));
    t.start();
    t.join();
}

// Counts live instances so tests can see when values are destroyed.
struct Tracked {
    static inline std::atomic<int> alive{0};
    int value = 0;
    Tracked() { alive.fetch_add(1); }
    Tracked(const Tracked& other) : value(other.value) { alive.fetch_add(1); }
    ~Tracked() { alive.fetch_sub(1); }
};

TEST(Local, EachThreadSeesItsOwnValue) {
    local<int> number;
    *number = 1;
    int seen_in_thread = -1;
    in_nogil_thread([&] {
        seen_in_thread = *number;
        *number = 2;
    });
    EXPECT_EQ(seen_in_thread, 0);
    EXPECT_EQ(number.get(), 1);
}

TEST(Local, InitialValueIsCopiedPerThread) {
    local<std::string> text(std::string("start"));
    text->append("-main");
    std::string seen;
    std::thread([&] { seen = *text; }).join();
    EXPECT_EQ(seen, "start");
    EXPECT_EQ(*text, "start-main");
}

TEST(Local, FactoryRunsOncePerThreadOnThatThread) {
    std::atomic<int> calls{0};
    local<unsigned long> creator([&] {
        calls.fetch_add(1);
        return nogil::threading::get_ident();
    });
    EXPECT_EQ(*creator, nogil::threading::get_ident());
    EXPECT_EQ(*creator, nogil::threading::get_ident());
    unsigned long in_thread = 0, ident = 0;
    in_nogil_thread([&] {
        in_thread = *creator;
        ident = nogil::threading::get_ident();
    });
    EXPECT_EQ(in_thread, ident);
    EXPECT_EQ(calls.load(), 2);
}

TEST(Local, ValueDiesWhenItsThreadEnds) {
    const int before = Tracked::alive.load();
    local<Tracked> tracked;
    in_nogil_thread([&] { tracked->value = 5; });
    EXPECT_EQ(Tracked::alive.load(), before);  // destroyed before join() returned
    std::thread([&] { tracked->value = 6; }).join();
    EXPECT_EQ(Tracked::alive.load(), before);  // foreign threads too, at their exit
    tracked->value = 7;
    EXPECT_EQ(Tracked::alive.load(), before + 1);
}

TEST(Local, DestroyingTheLocalFreesValuesOfLiveThreads) {
    const int before = Tracked::alive.load();
    auto tracked = std::make_unique<local<Tracked>>();
    Event filled, release;
    Thread t([&] {
        (*tracked)->value = 1;
        filled.set();
        release.wait();  // still alive while the local dies; exiting must not touch it again
    });
    t.start();
    filled.wait();
    (*tracked)->value = 2;
    EXPECT_EQ(Tracked::alive.load(), before + 2);
    tracked.reset();
    EXPECT_EQ(Tracked::alive.load(), before);
    release.set();
    t.join();
    EXPECT_EQ(Tracked::alive.load(), before);
}

TEST(Local, ValueDestructorMayUseAnotherLocal) {
    local<int> counter;
    struct UsesCounter {
        local<int>* counter;
        ~UsesCounter() { ++**counter; }  // runs at thread exit and creates a value there
    };
    local<std::optional<UsesCounter>> user;
    in_nogil_thread([&] { user->emplace(UsesCounter{&counter}); });
    EXPECT_EQ(*counter, 0);  // the thread's counter was its own, and is gone
}

TEST(LocalStress, ThreadsAndLocalsComeAndGo) {
    constexpr int rounds = 30, threads = 4;
    const int before = Tracked::alive.load();
    for (int r = 0; r < rounds; ++r) {
        auto shared = std::make_unique<local<Tracked>>();
        Event go, leave;
        std::latch used(threads);
        std::atomic<long> sum{0};
        std::vector<Thread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&, i] {
                local<Tracked> mine;  // a local living and dying inside the thread
                mine->value = i;
                (*shared)->value = i;
                go.wait();
                sum.fetch_add((*shared)->value + mine->value);
                used.count_down();
                leave.wait();
            });
        for (auto& t : pool) t.start();
        go.set();
        used.wait();
        if (r % 2) shared.reset();  // odd rounds: the local dies while its threads still live
        leave.set();
        for (auto& t : pool) t.join();
        EXPECT_EQ(sum.load(), 2L * threads * (threads - 1) / 2);
    }
    EXPECT_EQ(Tracked::alive.load(), before);
}

}  // namespace
