#include "store/run_query.h"

#include <ftsdk/error.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>

namespace ft {
namespace {

const std::map<std::string, std::string> kRunFields = {
    {"id", "s.id"},         {"name", "s.name"}, {"stage", "s.stage"},   {"group", "s.group_id"},
    {"status", "s.status"}, {"seed", "s.seed"}, {"epochs", "s.epochs"}, {"test_accuracy", "s.test_accuracy"}};
const std::vector<std::string> kMetrics = {"train_loss", "train_accuracy",   "val_loss", "val_accuracy",
                                           "lr",         "images_per_second"};
const std::vector<std::string> kSummaries = {"min", "max", "first", "last", "mean", "argmin", "argmax"};

struct Token {
  enum Kind { word, number, text, op, open, close, comma, end } kind;
  std::string value;
  std::size_t column;  // 1-based
};

class Compiler {
 public:
  Compiler(std::string expression, std::string option, std::string prefix)
      : input_(std::move(expression)), option_(std::move(option)), prefix_(std::move(prefix)) {
    tokenize();
  }

  SqlFragment where() {
    out_.sql = disjunction();
    expect_end();
    return out_;
  }

  ColumnList columns() {
    ColumnList list;
    std::string sql;
    do {
      const Token& token = next();
      sql += ", " + field(token);
      list.names.push_back(token.value);
      list.parameters.push_back(last_is_parameter_);
    } while (peek().kind == Token::comma && (next(), true));
    expect_end();
    out_.sql = sql;
    list.select = out_;
    return list;
  }

  SqlFragment order_by() {
    std::string sql;
    do {
      if (!sql.empty()) sql += ", ";
      sql += field(next());
      std::string direction = "ASC";
      if (peek().kind == Token::word && (lower(peek().value) == "asc" || lower(peek().value) == "desc")) {
        direction = lower(next().value) == "asc" ? "ASC" : "DESC";
      }
      // Runs without the value (NULL) go last whichever the direction. A parameter's numbers come before its
      // texts, in numeric order: SQLite keeps each value's type, PostgreSQL holds them all as TEXT.
      if (last_is_parameter_) {
        const std::string number = "ftrun_number(" + last_field_ + ")";
        sql += " IS NULL, " + number + " IS NULL, " + number + " " + direction + ", " + last_field_ + " " + direction;
      } else {
        sql += " IS NULL, " + last_field_ + " " + direction;
      }
    } while (peek().kind == Token::comma && (next(), true));
    expect_end();
    out_.sql = sql;
    return out_;
  }

 private:
  static std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
  }

  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw ConfigError(option_ + ": column " + std::to_string(at.column) + ": " + message + "\n  " + input_ + "\n  " +
                      std::string(at.column - 1, ' ') + "^");
  }

  void tokenize() {
    std::size_t i = 0;
    while (i < input_.size()) {
      const char c = input_[i];
      const std::size_t column = i + 1;
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '(' || c == ')' || c == ',') {
        tokens_.push_back({c == '(' ? Token::open : c == ')' ? Token::close : Token::comma, std::string(1, c), column});
        ++i;
      } else if (c == '\'' || c == '"') {
        const auto close = input_.find(c, i + 1);
        if (close == std::string::npos) fail({Token::text, "", column}, "this quote is never closed");
        tokens_.push_back({Token::text, input_.substr(i + 1, close - i - 1), column});
        i = close + 1;
      } else if (c == '<' || c == '>' || c == '=' || c == '!') {
        std::string op(1, c);
        if (i + 1 < input_.size() && input_[i + 1] == '=') op += '=';
        if (op == "!") fail({Token::op, op, column}, "expected != ('!' alone is not an operator)");
        tokens_.push_back({Token::op, op, column});
        i += op.size();
      } else {
        std::size_t end = i;
        while (end < input_.size() && !std::isspace(static_cast<unsigned char>(input_[end])) &&
               std::string("()<>=!,'\"").find(input_[end]) == std::string::npos) {
          ++end;
        }
        const std::string word = input_.substr(i, end - i);
        char* number_end = nullptr;
        std::strtod(word.c_str(), &number_end);
        const bool is_number = number_end == word.c_str() + word.size() &&
                               (std::isdigit(word[0]) || word[0] == '-' || word[0] == '+' || word[0] == '.');
        tokens_.push_back({is_number ? Token::number : Token::word, word, column});
        i = end;
      }
    }
    tokens_.push_back({Token::end, "", input_.size() + 1});
  }

  const Token& peek() const { return tokens_[position_]; }
  const Token& next() { return tokens_[position_ < tokens_.size() - 1 ? position_++ : position_]; }
  void expect_end() {
    if (peek().kind != Token::end) fail(peek(), "unexpected '" + peek().value + "'");
  }
  bool keyword(const char* word) {
    if (peek().kind == Token::word && lower(peek().value) == word) {
      next();
      return true;
    }
    return false;
  }

  std::string disjunction() {
    std::string sql = conjunction();
    while (keyword("or")) sql = "(" + sql + " OR " + conjunction() + ")";
    return sql;
  }
  std::string conjunction() {
    std::string sql = term();
    while (keyword("and")) sql = "(" + sql + " AND " + term() + ")";
    return sql;
  }
  std::string term() {
    if (keyword("not")) return "NOT " + term();
    if (peek().kind == Token::open) {
      next();
      std::string sql = disjunction();
      if (peek().kind != Token::close) fail(peek(), "expected ')'");
      next();
      return "(" + sql + ")";
    }
    std::string lhs = field(next());
    const Token op = next();
    if (op.kind != Token::op) fail(op, "expected an operator (= != < <= > >=) after '" + last_name_ + "'");
    const Token value = next();
    if (value.kind != Token::number && value.kind != Token::word && value.kind != Token::text) {
      fail(value, "expected a value after '" + op.value + "'");
    }
    // A parameter compared with a number is compared as a number (NULL where it is not one), on either backend.
    if (last_is_parameter_ && value.kind == Token::number) lhs = "ftrun_number(" + lhs + ")";
    return lhs + " " + (op.value == "=" ? "=" : op.value) + " " + bind(value);
  }

  // The SQL of a field; every name written into the SQL is from the fixed lists above.
  std::string field(const Token& token) {
    if (token.kind != Token::word) fail(token, "expected a field (a run field, metric.summary or parameter key)");
    last_name_ = token.value;
    last_is_parameter_ = false;
    if (auto it = kRunFields.find(token.value); it != kRunFields.end()) return last_field_ = it->second;
    const auto dot = token.value.rfind('.');
    if (dot != std::string::npos) {
      const std::string metric = token.value.substr(0, dot), summary = token.value.substr(dot + 1);
      if (std::find(kMetrics.begin(), kMetrics.end(), metric) != kMetrics.end()) {
        if (std::find(kSummaries.begin(), kSummaries.end(), summary) == kSummaries.end()) {
          fail(token,
               "unknown summary '" + summary + "' of " + metric + " (min, max, first, last, mean, argmin, argmax)");
        }
        return last_field_ = summary_sql(metric, summary);
      }
    }
    if (token.value.find('.') == std::string::npos) {
      fail(token, "unknown field '" + token.value +
                      "' (run fields: id, name, stage, group, status, seed, epochs, test_accuracy; metrics as "
                      "val_loss.min; parameters as optimizer.lr)");
    }
    // A parameter key: bound, never pasted.
    last_is_parameter_ = true;
    return last_field_ = "(SELECT value FROM run_params p WHERE p.run_id = s.id AND p.key = " +
                         bind({Token::text, token.value, token.column}) + ")";
  }

  static std::string summary_sql(const std::string& metric, const std::string& summary) {
    // The summaries run_results keeps are read from it (one row per run) rather than worked out from every
    // epoch of every run at each question: the same values (MIN and MAX skip NULLs, as these do).
    static const std::map<std::string, std::string> kept = {{"val_loss.min", "s.best_val_loss"},
                                                            {"val_accuracy.max", "s.best_val_accuracy"},
                                                            {"val_accuracy.last", "s.final_val_accuracy"}};
    if (auto it = kept.find(metric + "." + summary); it != kept.end()) return it->second;
    const std::string from = " FROM epoch_metrics e WHERE e.run_id = s.id AND e." + metric + " IS NOT NULL";
    if (summary == "min" || summary == "max") return "(SELECT " + summary + "(e." + metric + ")" + from + ")";
    if (summary == "mean") return "(SELECT AVG(e." + metric + ")" + from + ")";
    if (summary == "first" || summary == "last") {
      return "(SELECT e." + metric + from + " ORDER BY e.epoch " + (summary == "first" ? "ASC" : "DESC") + " LIMIT 1)";
    }
    return "(SELECT e.epoch" + from + " ORDER BY e." + metric + (summary == "argmin" ? " ASC" : " DESC") +
           ", e.epoch LIMIT 1)";
  }

  std::string bind(const Token& value) {
    const std::string name = ":" + prefix_ + std::to_string(out_.values.size());
    if (value.kind == Token::number)
      out_.values.emplace_back(std::strtod(value.value.c_str(), nullptr));
    else
      out_.values.emplace_back(value.value);
    return name;
  }

  std::string input_, option_, prefix_;
  std::vector<Token> tokens_;
  std::size_t position_ = 0;
  SqlFragment out_;
  std::string last_name_, last_field_;
  bool last_is_parameter_ = false;
};

}  // namespace

SqlFragment compile_where(const std::string& expression) { return Compiler(expression, "--where", "w").where(); }

ColumnList compile_columns(const std::string& expression) { return Compiler(expression, "--columns", "c").columns(); }

SqlFragment compile_order_by(const std::string& expression) {
  return Compiler(expression, "--order-by", "o").order_by();
}

}  // namespace ft
