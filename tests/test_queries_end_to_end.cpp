// The store's answers through the ftrun binary and the sqlite3 shell: compare, overfit, show, and every query
// docs/store.md documents (run as written, so the docs stay true).
#include "ftrun_cli.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>

using Catch::Matchers::Contains;

namespace {

// The ```sql blocks of a Markdown file.
std::vector<std::string> sql_blocks(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string markdown = text.str();
  std::vector<std::string> blocks;
  const std::regex block("```sql\n([\\s\\S]*?)```");
  for (std::sregex_iterator it(markdown.begin(), markdown.end(), block), end; it != end; ++it) {
    blocks.push_back((*it)[1]);
  }
  return blocks;
}

}  // namespace

TEST_CASE("compare, overfit and show answer from a store of real runs, and the documented SQL runs", "[e2e][queries]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const auto experiment = write(dir, "tiny.toml", replaced(kTiny, "epochs = 2", "epochs = 4"));
  for (const std::string lr : {"0.05", "0.01"}) {
    for (const std::string seed : {"1", "2"}) {
      const auto result =
          run(experiment + " --store " + store + " --set optimizer.lr=" + lr + " --set experiment.seed=" + seed);
      REQUIRE(result.code == 0);
    }
  }
  const auto compare = run("compare optimizer.lr --store " + store);
  INFO(compare.output);
  CHECK(compare.code == 0);
  CHECK_THAT(compare.output, Contains("0.01                         2") && Contains("<- best") && Contains(" ± "));
  const auto overfit = run("overfit --patience 2 --store " + store);
  INFO(overfit.output);
  CHECK(overfit.code == 0);
  CHECK_THAT(overfit.output, Contains("gap@best") && Contains("lasted at least 2 evaluation(s)"));
  const auto listing = run("runs --store " + store);
  CHECK_THAT(listing.output, Contains(" seed ") && Contains("completed       2 "));
  CHECK(run("show 1 --store " + store).code == 0);
  CHECK_THAT(run("overfit 99 --store " + store).output, Contains("no run 99"));

  const auto blocks = sql_blocks(std::string(FT_SOURCE_DIR) + "/docs/store.md");
  REQUIRE_FALSE(blocks.empty());
  for (const auto& sql : blocks) {
    const auto file = write(dir, "query.sql", sql);
    const auto shell = run_command("sqlite3 -bail " + store + " < " + file);
    INFO(sql << "\n" << shell.output);
    CHECK(shell.code == 0);
    CHECK_FALSE(Contains("Error").match(shell.output));
  }
}
