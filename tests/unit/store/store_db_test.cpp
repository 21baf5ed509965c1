// Unit tests of store/db: connection settings (WAL, synchronous, busy timeout), statements with
// typed binds and columns, cached statements and transactions, on real temporary SQLite files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "support/temp_db_file.hpp"
#include <sqlite3.h>

#include "store/db.hpp"

namespace valtronics::store {
namespace {


std::string pragma_text(Database& db, const char* pragma) {
  Statement st = db.prepare(pragma);
  EXPECT_TRUE(st.step());
  return st.column_text(0);
}

TEST(StoreDb, FileDatabaseUsesWalNormalSyncForeignKeysAndBusyTimeout) {
  TempDbFile file;
  Database db = Database::open(file.str());
  EXPECT_TRUE(std::filesystem::exists(file.path()));
  EXPECT_EQ(db.path(), file.str());
  EXPECT_EQ(pragma_text(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma_text(db, "PRAGMA synchronous"), "1");  // NORMAL
  EXPECT_EQ(pragma_text(db, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(pragma_text(db, "PRAGMA busy_timeout"), "5000");
}

TEST(StoreDb, MemoryDatabaseWorks) {
  Database db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);");
  Statement st = db.prepare("SELECT SUM(x) FROM t");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), 3);
  EXPECT_FALSE(st.step());
}

TEST(StoreDb, OpenFailureNamesThePath) {
  std::string path = "/nonexistent-dir-valtronics/sub/x.db";
  try {
    Database::open(path);
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(StoreDb, NotADatabaseFileIsRefusedNamingThePath) {
  TempDbFile file;
  {
    std::ofstream out(file.path(), std::ios::binary);
    out << std::string(4096, 'x');
  }
  try {
    Database::open(file.str());
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(file.str()), std::string::npos) << e.what();
  }
}

TEST(StoreDb, BindAndReadEveryType) {
  TempDbFile file;
  Database db = Database::open(file.str());
  db.exec("CREATE TABLE t (a, b, c, d, e, f, g, h, i)");
  Statement ins = db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  std::string s = "str";
  ins.bind(1, std::int64_t{1} << 40)
      .bind(2, 2.5)
      .bind(3, std::string_view("view"))
      .bind(4, std::nullopt)
      .bind(5, std::optional<std::int64_t>{})
      .bind(6, std::optional<std::string>{"opt"})
      .bind(7, 7)
      .bind(8, s)
      .bind(9, std::string_view{});  // empty, not NULL
  ins.run();
  Statement sel = db.prepare("SELECT a, b, c, d, e, f, g, h, i FROM t");
  ASSERT_TRUE(sel.step());
  EXPECT_EQ(sel.column_int(0), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(sel.column_double(1), 2.5);
  EXPECT_EQ(sel.column_text(2), "view");
  EXPECT_TRUE(sel.is_null(3));
  EXPECT_EQ(sel.column_opt_int(3), std::nullopt);
  EXPECT_EQ(sel.column_opt_text(4), std::nullopt);
  EXPECT_EQ(sel.column_opt_text(5), std::optional<std::string>("opt"));
  EXPECT_EQ(sel.column_opt_int(6), std::optional<std::int64_t>(7));
  EXPECT_EQ(sel.column_text(7), "str");
  EXPECT_FALSE(sel.is_null(8));
  EXPECT_EQ(sel.column_opt_text(8), std::optional<std::string>(""));
  EXPECT_EQ(sel.column_text(3), "");  // NULL as text: empty
  EXPECT_FALSE(sel.step());
}

TEST(StoreDb, UnsignedAboveInt64IsRefused) {
  Database db = Database::open(":memory:");
  Statement st = db.prepare("SELECT ?");
  EXPECT_THROW(st.bind(1, std::numeric_limits<std::uint64_t>::max()), StoreError);
  st.bind(1, std::uint64_t{42});
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), 42);
}

TEST(StoreDb, ReusesAStatementAfterReset) {
  Database db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER)");
  Statement ins = db.prepare("INSERT INTO t VALUES (?)");
  for (int i = 0; i < 5; ++i) {
    ins.bind(1, i).run();
    EXPECT_EQ(db.changes(), 1);
    ins.reset();
  }
  Statement count = db.prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 5);
}

TEST(StoreDb, ErrorsCarrySqliteMessage) {
  Database db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER PRIMARY KEY)");
  db.exec("INSERT INTO t VALUES (1)");
  Statement dup = db.prepare("INSERT INTO t VALUES (1)");
  try {
    dup.run();
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("UNIQUE constraint failed"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(db.prepare("SELEC nothing"), StoreError);
  EXPECT_THROW(db.prepare("SELECT 1; SELECT 2"), StoreError);
  EXPECT_THROW(db.exec("NOT SQL AT ALL"), StoreError);
  EXPECT_THROW(db.prepare("SELECT ?").bind(2, 1), StoreError);  // no parameter 2
}

TEST(StoreDb, CachedStatementIsReusedResetAndCleared) {
  static constexpr char kInsert[] = "INSERT INTO t VALUES (?1, ?2)";
  Database db = Database::open(":memory:");
  db.exec("CREATE TABLE t (a, b)");
  Statement& first = db.cached(kInsert);
  first.bind(1, 1).bind(2, 2).run();
  Statement& second = db.cached(kInsert);
  EXPECT_EQ(&first, &second);
  second.bind(1, 3).run();  // ?2 not bound again: NULL (bindings were cleared)
  Statement sel = db.prepare("SELECT a, b FROM t ORDER BY a");
  ASSERT_TRUE(sel.step());
  EXPECT_EQ(sel.column_int(1), 2);
  ASSERT_TRUE(sel.step());
  EXPECT_EQ(sel.column_int(0), 3);
  EXPECT_TRUE(sel.is_null(1));
}

TEST(StoreDb, MovedDatabaseKeepsItsConnectionAndCache) {
  static constexpr char kInsert[] = "INSERT INTO t VALUES (?1)";
  TempDbFile file;
  Database a = Database::open(file.str());
  a.exec("CREATE TABLE t (a)");
  a.cached(kInsert).bind(1, 1).run();
  Database b = std::move(a);
  b.cached(kInsert).bind(1, 2).run();
  Database c = Database::open(":memory:");
  c = std::move(b);
  c.cached(kInsert).bind(1, 3).run();
  Statement st = c.prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), 3);
  EXPECT_EQ(c.path(), file.str());
}

TEST(StoreDb, TransactionRollsBackUnlessCommitted) {
  TempDbFile file;
  Database db = Database::open(file.str());
  db.exec("CREATE TABLE t (x)");
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
  }  // rolled back
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (2)");
    tx.commit();
  }
  EXPECT_FALSE(db.in_transaction());
  Database other = Database::open(file.str());
  Statement st = other.prepare("SELECT x FROM t");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), 2);
  EXPECT_FALSE(st.step());
}

TEST(StoreDb, TransactionIsImmediate) {
  TempDbFile file;
  Database a = Database::open(file.str());
  a.exec("CREATE TABLE t (x)");
  Database b = Database::open(file.str());
  b.exec("PRAGMA busy_timeout = 0");  // fail at once instead of waiting 5 s
  Transaction tx(a);                    // holds the write lock from BEGIN
  EXPECT_THROW(Transaction{b}, StoreError);
  // A reader is not blocked in WAL mode.
  Statement st = b.prepare("SELECT COUNT(*) FROM t");
  EXPECT_TRUE(st.step());
}

// (issue 10, durability) The writer keeps and retries what fails for the storage's sake, and
// fails alone what fails for the operation's: StoreError says which, from SQLite's code.
TEST(StoreDb, ALockedDatabaseIsStorageUnavailableAConstraintIsNot) {
  TempDbFile file;
  Database a = Database::open(file.str());
  a.exec("CREATE TABLE t (x PRIMARY KEY)");
  a.exec("INSERT INTO t VALUES (1)");
  Database b = Database::open(file.str());
  b.exec("PRAGMA busy_timeout = 0");
  {
    Transaction tx(a);
    try {
      Transaction{b};
      ADD_FAILURE() << "BEGIN IMMEDIATE succeeded under another writer";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.code() & 0xff, SQLITE_BUSY) << e.what();
      EXPECT_TRUE(e.storage_unavailable()) << e.what();
    }
  }
  try {
    b.exec("INSERT INTO t VALUES (1)");
    ADD_FAILURE() << "duplicate key accepted";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code() & 0xff, SQLITE_CONSTRAINT) << e.what();
    EXPECT_FALSE(e.storage_unavailable()) << e.what();
  }
  EXPECT_FALSE(StoreError("no code").storage_unavailable());
  EXPECT_TRUE(StoreError("full", SQLITE_FULL).storage_unavailable());
  EXPECT_TRUE(StoreError("short write", SQLITE_IOERR_WRITE).storage_unavailable());
}

}  // namespace
}  // namespace valtronics::store
