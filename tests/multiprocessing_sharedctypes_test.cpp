// Mirrors the core of CPython's _test_multiprocessing.py _TestValue and _TestArray.
#include "multiprocessing_test_support.hpp"

namespace mp = nogil::multiprocessing;
using namespace mp_test;

namespace {

struct Pair {
    int a;
    double b;
};

void modify(mp::Value<int> n, mp::Value<double> x, mp::Value<Pair> pair, mp::Array<double> arr) {
    n.set_value(n.value() * 2);
    x.set_value(x.value() * 2);
    pair.set_value(Pair{pair.value().a + 1, pair.value().b * 3});
    for (std::size_t i = 0; i < arr.size(); ++i) arr.set(i, arr.get(i) * 2);
}

void add_under_lock(mp::Array<int> arr, int times) {
    for (int t = 0; t < times; ++t) {
        std::scoped_lock lock(arr.get_lock());
        for (auto& v : arr.get_obj()) v += 1;
    }
}

using SharedctypesTest = StartMethodTest;

TEST_P(SharedctypesTest, ChildChangesAreSeenByParent) {
    mp::Value<int> n(7);
    mp::Value<double> x(1.0 / 3);
    mp::Value<Pair> pair(Pair{1, 2.5});
    mp::Array<double> arr{1.0, 2.0, 3.0, 4.0};
    mp::Process p(modify, n, x, pair, arr, options());
    p.start();
    p.join(kBound);
    ASSERT_EQ(p.exitcode(), 0);
    EXPECT_EQ(n.value(), 14);
    EXPECT_DOUBLE_EQ(x.value(), 2.0 / 3);
    EXPECT_EQ(pair.value().a, 2);
    EXPECT_DOUBLE_EQ(pair.value().b, 7.5);
    EXPECT_EQ(arr.to_vector(), (std::vector<double>{2.0, 4.0, 6.0, 8.0}));
}

TEST_P(SharedctypesTest, GetLockMakesCompoundUpdatesAtomic) {
    mp::Array<int> arr(8);
    std::vector<mp::Process> procs;
    for (int i = 0; i < 3; ++i) procs.emplace_back(add_under_lock, arr, 500, options());
    for (auto& p : procs) p.start();
    add_under_lock(arr, 500);
    for (auto& p : procs) {
        p.join(kBound);
        EXPECT_EQ(p.exitcode(), 0);
    }
    EXPECT_EQ(arr.to_vector(), std::vector<int>(8, 2000));
}

MP_INSTANTIATE_START_METHODS(SharedctypesTest);

TEST(Value, DefaultsAndSharedCopies) {
    mp::Value<long> v;
    EXPECT_EQ(v.value(), 0);
    mp::Value<long> copy = v;
    copy.set_value(5);
    EXPECT_EQ(v.value(), 5);
    {
        std::scoped_lock lock(v.get_lock());
        v.get_obj() += 1;
        EXPECT_EQ(copy.get_obj(), 6);
    }
}

TEST(Array, SizesBoundsAndZeroFill) {
    mp::Array<char> empty(0);
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_TRUE(empty.to_vector().empty());
    mp::Array<int> arr(5);
    EXPECT_EQ(arr.size(), 5u);
    EXPECT_EQ(arr.to_vector(), std::vector<int>(5, 0));
    EXPECT_THROW(arr.get(5), std::out_of_range);
    EXPECT_THROW(arr.set(9, 1), std::out_of_range);
    arr.set(4, 42);
    EXPECT_EQ(arr.get(4), 42);
    EXPECT_EQ(arr.get_obj()[4], 42);
}

}  // namespace
