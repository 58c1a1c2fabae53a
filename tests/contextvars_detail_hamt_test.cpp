// The persistent map behind Context (include/nogil/contextvars/detail/hamt.hpp), checked against
// std::map: random sets and erases, every old version unchanged after newer ones were built,
// and nodes freed (the value boxes count their live instances).
#include <nogil/contextvars/detail/hamt.hpp>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace cvd = nogil::contextvars::detail;

namespace {

std::atomic<int> live_values{0};

struct Counted {
    int v;
    explicit Counted(int x) : v(x) { ++live_values; }
    Counted(const Counted& o) : v(o.v) { ++live_values; }
    ~Counted() { --live_values; }
    bool operator==(const Counted& o) const { return v == o.v; }
};

cvd::Map with(const cvd::Map& m, std::uint64_t key, int v) {
    auto* box = new cvd::TypedValue<Counted>(v);
    cvd::Map r = m.set(key, *box);
    box->release();
    return r;
}

int value_of(const cvd::Value* v) { return static_cast<const cvd::TypedValue<Counted>*>(v)->value.v; }

void expect_same(const cvd::Map& m, const std::map<std::uint64_t, int>& model) {
    ASSERT_EQ(m.size(), model.size());
    for (const auto& [k, v] : model) {
        const cvd::Value* found = m.find(k);
        ASSERT_NE(found, nullptr) << k;
        EXPECT_EQ(value_of(found), v);
    }
    std::size_t visited = 0;
    m.for_each([&](std::uint64_t k, const cvd::Value& v) {
        ++visited;
        ASSERT_TRUE(model.count(k));
        EXPECT_EQ(value_of(&v), model.at(k));
    });
    EXPECT_EQ(visited, model.size());
}

}  // namespace

TEST(ContextvarsDetailHamt, EmptyMapFindsNothing) {
    cvd::Map m;
    EXPECT_EQ(m.find(1), nullptr);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_TRUE(m.erase(1).empty());
}

TEST(ContextvarsDetailHamt, RandomUpdatesMatchAStdMapAndOldVersionsStayIntact) {
    {
        std::mt19937_64 rng(13);
        std::vector<std::pair<cvd::Map, std::map<std::uint64_t, int>>> versions;
        cvd::Map m;
        std::map<std::uint64_t, int> model;
        for (int step = 0; step < 4000; ++step) {
            const std::uint64_t key = 1 + rng() % 600;
            if (rng() % 3 == 0) {
                m = m.erase(key);
                model.erase(key);
            } else {
                const int v = static_cast<int>(rng() % 100000);
                m = with(m, key, v);
                model[key] = v;
            }
            if (step % 97 == 0) versions.emplace_back(m, model);
        }
        expect_same(m, model);
        for (const auto& [old, old_model] : versions) expect_same(old, old_model);
        // Erase everything: the map collapses to empty.
        for (const auto& [k, v] : std::map<std::uint64_t, int>(model)) {
            m = m.erase(k);
            model.erase(k);
        }
        EXPECT_TRUE(m.empty());
        for (const auto& [old, old_model] : versions) expect_same(old, old_model);
    }
    EXPECT_EQ(live_values.load(), 0);  // every node and value freed with the last map
}

TEST(ContextvarsDetailHamt, EraseOfAnAbsentKeySharesTheTrie) {
    cvd::Map m = with(with(cvd::Map(), 1, 10), 2, 20);
    EXPECT_TRUE(m.erase(3).same(m));
    EXPECT_FALSE(m.erase(2).same(m));
}

TEST(ContextvarsDetailHamt, EqualityComparesKeysAndValues) {
    cvd::Map a = with(with(cvd::Map(), 1, 10), 2, 20);
    cvd::Map b = with(with(cvd::Map(), 2, 20), 1, 10);  // built in another order
    EXPECT_TRUE(a == b);
    EXPECT_FALSE(a == with(b, 1, 11));
    EXPECT_FALSE(a == b.erase(1));
}
