#pragma once
// `ftrun runs --where EXPR --order-by EXPR`: a small expression language over runs, compiled to parameterised
// SQL against the run_summary view (aliased `s`). Values and parameter keys are always bound, never pasted; the
// only names written into the SQL come from fixed lists.
//
//   where    := term (("and" | "or") term)*
//   term     := "not" term | "(" where ")" | field op value
//   field    := run field (id, name, stage, group, status, seed, epochs, test_accuracy)
//             | metric "." summary   (train_loss, train_accuracy, val_loss, val_accuracy, lr, images_per_second;
//                                     min, max, first, last, mean, argmin, argmax: the epoch of the min / max)
//             | a parameter key       (optimizer.lr, regularization.l2sp.alpha, ...)
//   op       := = != < <= > >=
//   value    := number | 'text' | "text" | word
//   order_by := field ["asc" | "desc"] ("," field ["asc" | "desc"])*
//   columns  := field ("," field)*
//
// Example: --where "optimizer.lr < 1e-3 and status = completed" --order-by "val_accuracy.max desc"
//
// A parameter compared with a number, or ordered, is read through ftrun_number() (a number, or NULL where the
// value is not one), which both backends define (sqlite_connection.cpp, postgres_schema.cpp): a parameter's values
// are typed in SQLite and TEXT in PostgreSQL, and the answers must not differ.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace ft {

/// SQL text with named parameters (:w0, :w1, ... for --where; :o0, ... for --order-by) and their values, in order.
struct SqlFragment {
  std::string sql;
  std::vector<std::variant<std::string, double>> values;
};

/// Compiles a --where expression. Throws ConfigError pointing at the offending column, e.g.
/// "--where: column 17: expected a value after '<'" with the expression and a caret under it.
SqlFragment compile_where(const std::string& expression);

/// Extra columns of a runs table: fields as in --order-by (run fields, metric.summary, parameter keys), comma
/// separated, without directions. `select` starts with ", " and goes after the other selected columns.
struct ColumnList {
  SqlFragment select;
  std::vector<std::string> names;
  /// Which of them are parameter keys: PostgreSQL keeps their values as TEXT, so a number reads back as its text.
  std::vector<bool> parameters;
};

/// Compiles a --columns list, e.g. "optimizer.lr, val_accuracy.max". Throws ConfigError like compile_where.
ColumnList compile_columns(const std::string& expression);

/// Compiles an --order-by list. Throws ConfigError like compile_where.
SqlFragment compile_order_by(const std::string& expression);

}  // namespace ft
