// An error as the OpenAI API reports it: an HTTP status and {"error": {message, type,
// param, code}}, which OpenAI's clients turn into their typed exceptions.
#pragma once

#include <string>

namespace fm::server {

struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field, "" when none
  std::string code;   // "" when none

  static ApiError invalid(std::string message, std::string param = "", std::string code = "") {
    return {400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
  }
};

// The JSON body of an error response.
std::string error_body(const ApiError& error);

}  // namespace fm::server
