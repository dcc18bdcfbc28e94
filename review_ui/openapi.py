"""The OpenAPI 3.0 document of /api/v1 (served at /api/v1/openapi.json)."""
from __future__ import annotations

from review_ui.queries import ALL_FILTERS, SORTS


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ITEM_ID = {"name": "item_id", "in": "path", "required": True,
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}}
ERRORS = {
    "401": _json(_ref("Error"), "未登录或令牌无效"),
    "403": _json(_ref("Error"), "角色无权执行此操作"),
}


def document() -> dict:
    filter_params = [{"name": key, "in": "query", "required": False, "description": label,
                      "schema": {"type": "array", "items": {"type": "string", "maxLength": 200}},
                      "style": "form", "explode": True}
                     for key, label in ALL_FILTERS.items()]
    list_params = filter_params + [
        {"name": "q", "in": "query", "description": "标题与正文中的中文子串", "schema": {"type": "string", "maxLength": 100}},
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(SORTS)}},
        {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "after", "in": "query", "description": "上一页返回的 next_after", "schema": {"type": "string"}},
        {"name": "all", "in": "query", "description": "1: 不默认只看待处理状态", "schema": {"type": "string", "enum": ["1"]}},
        {"name": "due", "in": "query", "schema": {"type": "string", "enum": ["overdue", "soon"]}},
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "facets", "in": "query", "schema": {"type": "string", "enum": ["1"]}},
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Shian review API", "version": "1.0.0",
                 "description": "食安网巡审核队列 API。认证：Authorization: Bearer <令牌>（`shian users token NAME`）。"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/items": {"get": {
                "summary": "队列条目（筛选、排序、search_after 分页）", "operationId": "listItems",
                "parameters": list_params,
                "responses": {"200": _json(_ref("ItemPage"), "一页条目"),
                              "400": _json(_ref("Error"), "筛选参数无效"), **ERRORS}}},
            "/api/v1/items/{item_id}": {"get": {
                "summary": "单个条目（含发现、核验与审核记录）", "operationId": "getItem", "parameters": [ITEM_ID],
                "responses": {"200": _json({"type": "object"}, "条目"),
                              "404": _json(_ref("Error"), "没有这个条目"), **ERRORS}}},
            "/api/v1/items/{item_id}/claim": {"post": {
                "summary": "认领（带租约；一次条件写入）", "operationId": "claimItem", "parameters": [ITEM_ID],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"takeover": {"type": "boolean"}}}}}},
                "responses": {"200": _json(_ref("Claim"), "认领成功"),
                              "409": _json(_ref("Held"), "已被他人认领（返回认领人）或不可认领"),
                              "404": _json(_ref("Error"), "没有这个条目"), **ERRORS}}},
            "/api/v1/items/{item_id}/release": {"post": {
                "summary": "释放认领", "operationId": "releaseItem", "parameters": [ITEM_ID],
                "responses": {"200": _json({"type": "object"}, "已释放"),
                              "409": _json(_ref("Error"), "你没有认领该条目"),
                              "404": _json(_ref("Error"), "没有这个条目"), **ERRORS}}},
            "/api/v1/items/{item_id}/heartbeat": {"post": {
                "summary": "续租并返回正在查看的人", "operationId": "heartbeat", "parameters": [ITEM_ID],
                "responses": {"200": _json({"type": "object"}, "状态"),
                              "404": _json(_ref("Error"), "没有这个条目"), **ERRORS}}},
            "/api/v1/items/{item_id}/decide": {"post": {
                "summary": "逐条决定（确认/排除/需补充信息，附理由代码）；submit=true 时完成该条目",
                "operationId": "decideItem", "parameters": [ITEM_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("DecideRequest")}}},
                "responses": {"200": _json({"type": "object"}, "已记录"),
                              "400": _json(_ref("Error"), "决定被拒绝（理由代码、说明或未认领）"),
                              "409": _json(_ref("Error"), "已被他人认领或并发修改"),
                              "404": _json(_ref("Error"), "没有这个条目"), **ERRORS}}},
            "/api/v1/items/{item_id}/escalate": {"post": {
                "summary": "提交科长复核", "operationId": "escalateItem", "parameters": [ITEM_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["note"], "properties": {"note": {"type": "string"}}}}}},
                "responses": {"200": _json({"type": "object"}, "已提交"),
                              "400": _json(_ref("Error"), "被拒绝"), "409": _json(_ref("Error"), "冲突"),
                              "404": _json(_ref("Error"), "没有这个条目"), **ERRORS}}},
            "/api/v1/lists": {"get": {
                "summary": "关键词词表及版本", "operationId": "keywordLists",
                "responses": {"200": _json({"type": "object"}, "词表"), **ERRORS}}},
            "/api/v1/reasons": {"get": {
                "summary": "按宣称类型/核验类型的理由代码及法律依据", "operationId": "reasonCodes",
                "responses": {"200": _json({"type": "object"}, "理由代码"), **ERRORS}}},
            "/api/v1/openapi.json": {"get": {
                "summary": "本文档", "operationId": "openapi",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 文档"), **ERRORS}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"],
                          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
                "Held": {"type": "object", "required": ["error", "message"],
                         "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                        "holder": {"type": "string"},
                                        "lease_until": {"type": "string", "nullable": True}}},
                "Claim": {"type": "object", "required": ["id", "holder", "lease_until"],
                          "properties": {"id": {"type": "string"}, "holder": {"type": "string"},
                                         "lease_until": {"type": "string", "format": "date-time"},
                                         "status": {"type": "string"}, "version": {"type": "string"}}},
                "Decision": {"type": "object", "required": ["target", "action", "reason_code"],
                             "properties": {"target": {"type": "string", "example": "finding:disease.cure@text:12-18"},
                                            "action": {"type": "string", "enum": ["confirm", "dismiss", "need_info"]},
                                            "reason_code": {"type": "string"}, "note": {"type": "string"}}},
                "DecideRequest": {"type": "object", "required": ["decisions"],
                                  "properties": {"decisions": {"type": "array", "items": _ref("Decision")},
                                                 "submit": {"type": "boolean"}}},
                "ItemPage": {"type": "object", "required": ["items", "total"],
                             "properties": {"items": {"type": "array", "items": {"type": "object"}},
                                            "total": {"type": "integer"}, "facets": {"type": "object"},
                                            "next_after": {"type": "string", "nullable": True}}},
            },
        },
    }
