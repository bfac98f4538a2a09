"""GitHub's GraphQL API (``POST /graphql``) for :class:`tests.fakes.github.FakeGitHub`.

Queries run with graphql-core against :data:`SCHEMA_SDL`, a subset of GitHub's public schema:
every type, field, argument (with its default), enum value and interface in it is named and
typed as GitHub's (nullability included; checked against octokit/graphql-schema); what GitHub
has beyond it is missing (a query that asks for it fails validation as GitHub fails an
undefined field). A type implements only the interfaces here; an enum has all of GitHub's
values, but for ``PullRequestTimelineItemsItemType`` (and the union
``PullRequestTimelineItems``), which have only the item types below. Answers come from the
fake's state, the same that REST serves:

* node ids are the ``node_id`` strings of the REST objects (the legacy format);
  ``node``/``nodes`` resolve them (an unknown id is ``null`` and a ``NOT_FOUND`` error);
* an actor is a ``User``, ``Organization`` or ``Bot``; a bot's login has no ``[bot]`` (REST's
  ``github-actions[bot]`` is the ``Bot`` ``github-actions``). ``viewer`` is the token's
  account (:attr:`FakeGitHub.actor`) as GitHub answers it for an installation token: a
  ``User`` whose login keeps the ``[bot]``;
* ``userContentEdits`` lists newest first, the creation last (the fake keeps them oldest
  first); ``timelineItems`` and ``commits`` oldest first;
* ``timelineItems`` has the item types of ``PullRequestTimelineItemsItemType`` here: issue
  comments, commits, labeled/unlabeled, ready for review, converted to draft, head force
  pushed and comment deleted events (the fake's other REST events have no GraphQL type here);
* every connection needs ``first`` or ``last`` (at most 100); cursors are opaque offsets;
* ``PullRequest.reviews`` are the reviews REST lists (all submitted: the fake has no pending
  ones), oldest first, ``state`` as REST's; its ``author`` argument is a login (a bot's with
  or without ``[bot]``). ``reviewRequests`` are REST's pending requests, the users' then the
  teams'. ``labels`` order ``CREATED_AT`` is the order of the labels' ids. ``comments`` are
  REST's, oldest first;
* ``Repository.object`` answers commits only (the fake has no trees, blobs or tags): one the
  fake knows (a pull request's commit, head, base or merge commit, a force-pushed head, a
  pushed commit, one with statuses), else ``null`` without an error. ``expression`` may be
  a full SHA, a branch that is a pull request's head or base, or ``HEAD`` (the default
  branch). A commit with no details in the fake (not among a pull request's commits) is made
  up: by the pull request's author when it is (or was force-pushed as) a head, else by an
  unknown git identity;
* ``Commit.status`` is REST's combined status (``GET /commits/{ref}/status``): ``null``
  without statuses, ``contexts`` the newest status of each context, newest first, ``state``
  by REST's rule (failure, pending or success);
* ``Query.organization`` is ``null`` with a ``NOT_FOUND`` error for a login that is no
  organization; ``Organization.team`` is ``null`` (no error) for no such team. A team marked
  :meth:`FakeGitHub.set_team_forbidden` is ``null`` with the ``FORBIDDEN`` error GitHub
  gives an installation token without ``members: read`` (``extensions.saml_failure``
  ``false``), the rest of the data still there (whatever the token; so is ``Team.members``
  when the team is reached otherwise, e.g. as a requested reviewer). ``Team.members`` are
  the active members (a pending invitation is none), in the order they were added (REST's);
  ``query`` keeps those whose login or name contains it, case-insensitive (the fake's
  accounts have no name; GitHub's own search is fuzzier); the fake has no child teams
  (``membership: CHILD_TEAM`` lists nobody);
* the ``Mannequin`` type is there (``RequestedReviewer`` and ``Actor`` have it) but the fake
  has no mannequins.

Errors follow GitHub's shapes: validation errors as graphql-ruby words them (``"Field 'x'
doesn't exist on type 'Y'"`` with ``extensions.code`` ``undefinedField`` and a ``path``
starting at ``query <name>``; an unused fragment is an error, ``useAndDefineFragment``),
resolution errors with a ``type`` (``NOT_FOUND``, ``FORBIDDEN``, ``EXCESSIVE_PAGINATION``,
...), all with HTTP 200.
"""

from __future__ import annotations

import base64
import json
import re
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLUnionType,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    VariableDefinitionNode,
    Visitor,
    build_schema,
    execute_sync,
    get_named_type,
    is_non_null_type,
    parse,
    print_ast,
    specified_rules,
    validate,
    visit,
)
from graphql.utilities import TypeInfo, TypeInfoVisitor

from tests.fakes.github import (
    NOT_ACCESSIBLE,
    FakeGitHub,
    _combined_state,
    _Comment,
    _Commit,
    _Edit,
    _Event,
    _event_node_kind,
    _iso,
    _Issue,
    _label_color,
    _node_id,
    _parse_time,
    _Pull,
    _Reply,
    _Repo,
    _Review,
    _Status,
    _Team,
    _User,
)
from tests.fakes.github_samples import JSON

_Info = Any
"""A resolver's ``GraphQLResolveInfo`` (generic in graphql-core 3.3, not in 3.2)."""

SCHEMA_SDL = """
interface Node {
  id: ID!
}

interface Actor {
  avatarUrl(size: Int): URI!
  login: String!
  resourcePath: URI!
  url: URI!
}

interface UniformResourceLocatable {
  resourcePath: URI!
  url: URI!
}

interface RepositoryOwner {
  avatarUrl(size: Int): URI!
  id: ID!
  login: String!
  repository(followRenames: Boolean = true, name: String!): Repository
  resourcePath: URI!
  url: URI!
}

interface Comment {
  author: Actor
  body: String!
  createdAt: DateTime!
  editor: Actor
  id: ID!
  includesCreatedEdit: Boolean!
  lastEditedAt: DateTime
  updatedAt: DateTime!
  userContentEdits(after: String, before: String, first: Int, last: Int): UserContentEditConnection
}

type Query {
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  organization(login: String!): Organization
  repository(followRenames: Boolean = true, name: String!, owner: String!): Repository
  viewer: User!
}

type User implements Actor & Node & RepositoryOwner & UniformResourceLocatable {
  avatarUrl(size: Int): URI!
  databaseId: Int
  email: String!
  id: ID!
  login: String!
  name: String
  repository(followRenames: Boolean = true, name: String!): Repository
  resourcePath: URI!
  url: URI!
}

type Bot implements Actor & Node & UniformResourceLocatable {
  avatarUrl(size: Int): URI!
  databaseId: Int
  id: ID!
  login: String!
  resourcePath: URI!
  url: URI!
}

type Organization implements Actor & Node & RepositoryOwner & UniformResourceLocatable {
  avatarUrl(size: Int): URI!
  databaseId: Int
  id: ID!
  login: String!
  name: String
  repository(followRenames: Boolean = true, name: String!): Repository
  resourcePath: URI!
  team(slug: String!): Team
  url: URI!
}

type Repository implements Node & UniformResourceLocatable {
  databaseId: Int
  id: ID!
  isPrivate: Boolean!
  issue(number: Int!): Issue
  issueOrPullRequest(number: Int!): IssueOrPullRequest
  name: String!
  nameWithOwner: String!
  object(expression: String, oid: GitObjectID): GitObject
  owner: RepositoryOwner!
  pullRequest(number: Int!): PullRequest
  resourcePath: URI!
  url: URI!
}

type Issue implements Comment & Node & UniformResourceLocatable {
  author: Actor
  body: String!
  comments(
    after: String
    before: String
    first: Int
    last: Int
    orderBy: IssueCommentOrder
  ): IssueCommentConnection!
  createdAt: DateTime!
  databaseId: Int
  editor: Actor
  fullDatabaseId: BigInt
  id: ID!
  includesCreatedEdit: Boolean!
  labels(
    after: String
    before: String
    first: Int
    last: Int
    orderBy: LabelOrder = {field: CREATED_AT, direction: ASC}
  ): LabelConnection
  lastEditedAt: DateTime
  number: Int!
  repository: Repository!
  resourcePath: URI!
  state: IssueState!
  title: String!
  updatedAt: DateTime!
  url: URI!
  userContentEdits(after: String, before: String, first: Int, last: Int): UserContentEditConnection
}

type PullRequest implements Comment & Node & UniformResourceLocatable {
  author: Actor
  baseRefName: String!
  baseRefOid: GitObjectID!
  body: String!
  comments(
    after: String
    before: String
    first: Int
    last: Int
    orderBy: IssueCommentOrder
  ): IssueCommentConnection!
  commits(after: String, before: String, first: Int, last: Int): PullRequestCommitConnection!
  createdAt: DateTime!
  databaseId: Int
  editor: Actor
  fullDatabaseId: BigInt
  headRefName: String!
  headRefOid: GitObjectID!
  id: ID!
  includesCreatedEdit: Boolean!
  isDraft: Boolean!
  labels(
    after: String
    before: String
    first: Int
    last: Int
    orderBy: LabelOrder = {field: CREATED_AT, direction: ASC}
  ): LabelConnection
  lastEditedAt: DateTime
  merged: Boolean!
  number: Int!
  repository: Repository!
  resourcePath: URI!
  reviewRequests(after: String, before: String, first: Int, last: Int): ReviewRequestConnection
  reviews(
    after: String
    author: String
    before: String
    first: Int
    last: Int
    states: [PullRequestReviewState!]
  ): PullRequestReviewConnection
  state: PullRequestState!
  timelineItems(
    after: String
    before: String
    first: Int
    itemTypes: [PullRequestTimelineItemsItemType!]
    last: Int
    since: DateTime
    skip: Int
  ): PullRequestTimelineItemsConnection!
  title: String!
  updatedAt: DateTime!
  url: URI!
  userContentEdits(after: String, before: String, first: Int, last: Int): UserContentEditConnection
}

type IssueComment implements Comment & Node {
  author: Actor
  body: String!
  createdAt: DateTime!
  databaseId: Int
  editor: Actor
  fullDatabaseId: BigInt
  id: ID!
  includesCreatedEdit: Boolean!
  lastEditedAt: DateTime
  pullRequest: PullRequest
  repository: Repository!
  resourcePath: URI!
  updatedAt: DateTime!
  url: URI!
  userContentEdits(after: String, before: String, first: Int, last: Int): UserContentEditConnection
}

type UserContentEdit implements Node {
  createdAt: DateTime!
  deletedAt: DateTime
  deletedBy: Actor
  diff: String
  editedAt: DateTime!
  editor: Actor
  id: ID!
  updatedAt: DateTime!
}

type UserContentEditConnection {
  edges: [UserContentEditEdge]
  nodes: [UserContentEdit]
  pageInfo: PageInfo!
  totalCount: Int!
}

type UserContentEditEdge {
  cursor: String!
  node: UserContentEdit
}

type PageInfo {
  endCursor: String
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
}

type PullRequestTimelineItemsConnection {
  edges: [PullRequestTimelineItemsEdge]
  filteredCount: Int!
  nodes: [PullRequestTimelineItems]
  pageCount: Int!
  pageInfo: PageInfo!
  totalCount: Int!
  updatedAt: DateTime!
}

type PullRequestTimelineItemsEdge {
  cursor: String!
  node: PullRequestTimelineItems
}

type CommentDeletedEvent implements Node {
  actor: Actor
  createdAt: DateTime!
  databaseId: Int
  deletedCommentAuthor: Actor
  id: ID!
}

type ConvertToDraftEvent implements Node & UniformResourceLocatable {
  actor: Actor
  createdAt: DateTime!
  id: ID!
  pullRequest: PullRequest!
  resourcePath: URI!
  url: URI!
}

type HeadRefForcePushedEvent implements Node {
  actor: Actor
  afterCommit: Commit
  beforeCommit: Commit
  createdAt: DateTime!
  id: ID!
  pullRequest: PullRequest!
}

type LabeledEvent implements Node {
  actor: Actor
  createdAt: DateTime!
  id: ID!
  label: Label!
}

type UnlabeledEvent implements Node {
  actor: Actor
  createdAt: DateTime!
  id: ID!
  label: Label!
}

type ReadyForReviewEvent implements Node & UniformResourceLocatable {
  actor: Actor
  createdAt: DateTime!
  id: ID!
  pullRequest: PullRequest!
  resourcePath: URI!
  url: URI!
}

type Label implements Node {
  color: String!
  id: ID!
  name: String!
}

type PullRequestCommit implements Node & UniformResourceLocatable {
  commit: Commit!
  id: ID!
  pullRequest: PullRequest!
  resourcePath: URI!
  url: URI!
}

type PullRequestCommitConnection {
  edges: [PullRequestCommitEdge]
  nodes: [PullRequestCommit]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestCommitEdge {
  cursor: String!
  node: PullRequestCommit
}

type Commit implements GitObject & Node & UniformResourceLocatable {
  abbreviatedOid: String!
  author: GitActor
  authoredDate: DateTime!
  authors(after: String, before: String, first: Int, last: Int): GitActorConnection!
  commitResourcePath: URI!
  commitUrl: URI!
  committedDate: DateTime!
  committer: GitActor
  id: ID!
  message: String!
  messageBody: String!
  messageHeadline: String!
  oid: GitObjectID!
  repository: Repository!
  resourcePath: URI!
  status: Status
  url: URI!
}

type GitActor {
  date: GitTimestamp
  email: String
  name: String
  user: User
}

type GitActorConnection {
  edges: [GitActorEdge]
  nodes: [GitActor]
  pageInfo: PageInfo!
  totalCount: Int!
}

type GitActorEdge {
  cursor: String!
  node: GitActor
}

interface GitObject {
  abbreviatedOid: String!
  commitResourcePath: URI!
  commitUrl: URI!
  id: ID!
  oid: GitObjectID!
  repository: Repository!
}

type Mannequin implements Actor & Node & UniformResourceLocatable {
  avatarUrl(size: Int): URI!
  claimant: User
  createdAt: DateTime!
  databaseId: Int
  email: String
  id: ID!
  login: String!
  resourcePath: URI!
  updatedAt: DateTime!
  url: URI!
}

type Team implements Node {
  combinedSlug: String!
  databaseId: Int
  id: ID!
  members(
    after: String
    before: String
    first: Int
    last: Int
    membership: TeamMembershipType = ALL
    orderBy: TeamMemberOrder
    query: String
    role: TeamMemberRole
  ): TeamMemberConnection!
  name: String!
  organization: Organization!
  resourcePath: URI!
  slug: String!
  url: URI!
}

type TeamMemberConnection {
  edges: [TeamMemberEdge]
  nodes: [User]
  pageInfo: PageInfo!
  totalCount: Int!
}

type TeamMemberEdge {
  cursor: String!
  node: User!
  role: TeamMemberRole!
}

input TeamMemberOrder {
  direction: OrderDirection!
  field: TeamMemberOrderField!
}

enum TeamMemberOrderField {
  CREATED_AT
  LOGIN
}

enum TeamMemberRole {
  MAINTAINER
  MEMBER
}

enum TeamMembershipType {
  ALL
  CHILD_TEAM
  IMMEDIATE
}

type IssueCommentConnection {
  edges: [IssueCommentEdge]
  nodes: [IssueComment]
  pageInfo: PageInfo!
  totalCount: Int!
}

type IssueCommentEdge {
  cursor: String!
  node: IssueComment
}

input IssueCommentOrder {
  direction: OrderDirection!
  field: IssueCommentOrderField!
}

enum IssueCommentOrderField {
  UPDATED_AT
}

type LabelConnection {
  edges: [LabelEdge]
  nodes: [Label]
  pageInfo: PageInfo!
  totalCount: Int!
}

type LabelEdge {
  cursor: String!
  node: Label
}

input LabelOrder {
  direction: OrderDirection!
  field: LabelOrderField!
}

enum LabelOrderField {
  CREATED_AT
  NAME
}

enum OrderDirection {
  ASC
  DESC
}

type ReviewRequest implements Node {
  asCodeOwner: Boolean!
  id: ID!
  pullRequest: PullRequest!
  requestedReviewer: RequestedReviewer
}

type ReviewRequestConnection {
  edges: [ReviewRequestEdge]
  nodes: [ReviewRequest]
  pageInfo: PageInfo!
  totalCount: Int!
}

type ReviewRequestEdge {
  cursor: String!
  node: ReviewRequest
}

union RequestedReviewer = Bot | Mannequin | Team | User

type PullRequestReview implements Comment & Node {
  author: Actor
  authorAssociation: CommentAuthorAssociation!
  body: String!
  commit: Commit
  createdAt: DateTime!
  databaseId: Int
  editor: Actor
  fullDatabaseId: BigInt
  id: ID!
  includesCreatedEdit: Boolean!
  lastEditedAt: DateTime
  publishedAt: DateTime
  pullRequest: PullRequest!
  repository: Repository!
  resourcePath: URI!
  state: PullRequestReviewState!
  submittedAt: DateTime
  updatedAt: DateTime!
  url: URI!
  userContentEdits(after: String, before: String, first: Int, last: Int): UserContentEditConnection
}

type PullRequestReviewConnection {
  edges: [PullRequestReviewEdge]
  nodes: [PullRequestReview]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestReviewEdge {
  cursor: String!
  node: PullRequestReview
}

enum PullRequestReviewState {
  APPROVED
  CHANGES_REQUESTED
  COMMENTED
  DISMISSED
  PENDING
}

enum CommentAuthorAssociation {
  COLLABORATOR
  CONTRIBUTOR
  FIRST_TIMER
  FIRST_TIME_CONTRIBUTOR
  MANNEQUIN
  MEMBER
  NONE
  OWNER
}

type Status implements Node {
  commit: Commit
  context(name: String!): StatusContext
  contexts: [StatusContext!]!
  id: ID!
  state: StatusState!
}

type StatusContext implements Node {
  commit: Commit
  context: String!
  createdAt: DateTime!
  creator: Actor
  description: String
  id: ID!
  state: StatusState!
  targetUrl: URI
}

enum StatusState {
  ERROR
  EXPECTED
  FAILURE
  PENDING
  SUCCESS
}

enum IssueState {
  CLOSED
  OPEN
}

enum PullRequestState {
  CLOSED
  MERGED
  OPEN
}

union IssueOrPullRequest = Issue | PullRequest

union PullRequestTimelineItems =
  | CommentDeletedEvent
  | ConvertToDraftEvent
  | HeadRefForcePushedEvent
  | IssueComment
  | LabeledEvent
  | PullRequestCommit
  | ReadyForReviewEvent
  | UnlabeledEvent

enum PullRequestTimelineItemsItemType {
  COMMENT_DELETED_EVENT
  CONVERT_TO_DRAFT_EVENT
  HEAD_REF_FORCE_PUSHED_EVENT
  ISSUE_COMMENT
  LABELED_EVENT
  PULL_REQUEST_COMMIT
  READY_FOR_REVIEW_EVENT
  UNLABELED_EVENT
}

scalar BigInt

scalar DateTime

scalar URI

scalar GitObjectID

scalar GitTimestamp
"""
"""The schema served: a subset of GitHub's public GraphQL schema (same names, types and
nullability; GitHub's descriptions left out)."""


def _resolve_type(value: Any, info: _Info, abstract_type: GraphQLAbstractType) -> str:
    return str(value.typename)


SCHEMA = build_schema(SCHEMA_SDL)
for _type in SCHEMA.type_map.values():
    if isinstance(_type, GraphQLInterfaceType | GraphQLUnionType):
        _type.resolve_type = _resolve_type

MAX_PAGE = 100
"""The most records a connection answers at once (``first``/``last``)."""

_HEADERS = {"X-RateLimit-Resource": "graphql"}
_TIMELINE_EVENTS = {
    "labeled": "LABELED_EVENT",
    "unlabeled": "UNLABELED_EVENT",
    "ready_for_review": "READY_FOR_REVIEW_EVENT",
    "convert_to_draft": "CONVERT_TO_DRAFT_EVENT",
    "head_ref_force_pushed": "HEAD_REF_FORCE_PUSHED_EVENT",
    "comment_deleted": "COMMENT_DELETED_EVENT",
}
"""Issue events that have a GraphQL type here, by their ``itemTypes`` value."""


# --- the endpoint ----------------------------------------------------------------------------


def answer(fake: FakeGitHub, body: JSON) -> _Reply:
    """Answer one ``POST /graphql`` request body (``{"query", "variables", "operationName"}``)
    from ``fake``'s state, as GitHub would (HTTP 200, also for errors in the query). Called by
    the fake with its lock held."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        message = "A query attribute must be specified and must be a string."
        return _Reply(200, {"errors": [{"message": message}]}, dict(_HEADERS))
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return _Reply(200, {"errors": [{"message": "Variables are invalid JSON."}]}, dict(_HEADERS))
    operation = body.get("operationName")
    return _Reply(200, _run(fake, body["query"], variables or {}, operation), dict(_HEADERS))


def _run(
    fake: FakeGitHub, query: str, variables: dict[str, Any], operation: str | None
) -> dict[str, Any]:
    try:
        document = parse(query)
    except GraphQLError as error:
        return {"errors": [_parse_error(query, error)]}
    invalid = _validation_errors(document)
    if invalid:
        return {"errors": invalid}
    result = execute_sync(
        SCHEMA,
        document,
        root_value=_Root(fake),
        variable_values=variables,
        operation_name=operation if isinstance(operation, str) else None,
    )
    errors = [_execution_error(fake, e, variables) for e in result.errors or []]
    if result.data is None or any(_is_pre_execution(e) for e in result.errors or []):
        return {"errors": errors}  # GitHub runs none of a query it rejects
    return {"data": result.data, **({"errors": errors} if errors else {})}


class _GitHubError(Exception):
    """A resolution error as GitHub reports it: ``{"type", "path", "locations", "message"}``."""

    def __init__(
        self,
        kind: str | None,
        message: str,
        *,
        pre_execution: bool = False,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.pre_execution = pre_execution
        """GitHub rejects the query before running it (pagination limits): no ``data``."""
        self.extensions = extensions
        """GitHub's ``extensions`` of the error (``FORBIDDEN``: ``{"saml_failure": false}``)."""


def _is_pre_execution(error: GraphQLError) -> bool:
    return isinstance(error.original_error, _GitHubError) and error.original_error.pre_execution


def _not_found(message: str) -> _GitHubError:
    return _GitHubError("NOT_FOUND", message)


def _forbidden() -> _GitHubError:
    """What GitHub answers an installation token for data its permissions do not cover."""
    return _GitHubError("FORBIDDEN", NOT_ACCESSIBLE, extensions={"saml_failure": False})


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or []]


def _execution_error(fake: FakeGitHub, error: GraphQLError, variables: dict[str, Any]) -> JSON:
    original = error.original_error
    definition = error.nodes[0] if error.nodes else None
    if isinstance(definition, VariableDefinitionNode):  # the variables do not fit
        return _variable_error(error, definition, variables)
    if isinstance(original, _GitHubError):
        kind: dict[str, Any] = {"type": original.kind} if original.kind else {}
        extra = {"extensions": original.extensions} if original.extensions is not None else {}
        where = {"path": error.path, **extra, "locations": _locations(error)}
        return {**kind, **where, "message": str(original)}
    if error.path is not None:  # a field failed otherwise: a bug in the fake, kept for the test
        cause = original or error
        fake.errors.append("".join(traceback.format_exception(cause)))
    return {"path": error.path, "locations": _locations(error), "message": error.message}


def _variable_error(
    error: GraphQLError, definition: VariableDefinitionNode, variables: dict[str, Any]
) -> dict[str, Any]:
    """A variable's value that does not fit its declared type, in GitHub's words."""
    name, kind = definition.variable.name.value, print_ast(definition.type)
    value = variables.get(name)
    if value is None:
        explanation = "Expected value to not be null"
    else:
        named = kind.strip("[]!")
        explanation = f"Could not coerce value {json.dumps(value)} to {named}"
    return {
        "extensions": {"value": value, "problems": [{"path": [], "explanation": explanation}]},
        "locations": _locations(error),
        "message": f"Variable ${name} of type {kind} was provided invalid value",
    }


_PUNCTUATORS = {
    "{": "LCURLY",
    "}": "RCURLY",
    "(": "LPAREN",
    ")": "RPAREN",
    "[": "LBRACKET",
    "]": "RBRACKET",
    ":": "COLON",
    "$": "VAR_SIGN",
    "=": "EQUALS",
    "!": "BANG",
    "@": "DIR_SIGN",
    "|": "PIPE",
    "&": "AMP",
}


def _parse_error(query: str, error: GraphQLError) -> dict[str, Any]:
    """graphql-ruby's words for a syntax error: ``Parse error on "}" (RCURLY) at [1, 9]``."""
    at = next(iter(error.positions or ()), len(query))
    rest = query[at:]
    if not rest.strip():
        return {"message": "Unexpected end of document", "locations": []}
    line, column = query.count("\n", 0, at) + 1, at - (query.rfind("\n", 0, at) + 1) + 1
    word = re.match(r"\.\.\.|-?\d+(?:\.\d+)?|\w+|\"[^\"]*\"?|.", rest, re.S)
    token = word[0] if word else rest[:1]
    if token in _PUNCTUATORS or token == "...":
        kind = _PUNCTUATORS.get(token, "ELLIPSIS")
    elif token.startswith('"'):
        token, kind = token.strip('"'), "STRING"
    elif re.fullmatch(r"-?\d+", token):
        kind = "INT"
    elif re.fullmatch(r"-?\d+\.\d+", token):
        kind = "FLOAT"
    else:
        kind = "IDENTIFIER"
    message = f'Parse error on "{token}" ({kind}) at [{line}, {column}]'
    return {"message": message, "locations": [{"line": line, "column": column}]}


# --- validation errors in graphql-ruby's words -------------------------------------------------


@dataclass
class _Spot:
    """Where a node of the query is: graphql-ruby's ``path`` to it, its ancestors, the type
    of the selection it is in, and (a field) its definition."""

    path: list[str]
    parents: list[Node]
    parent_type: str | None
    field_def: GraphQLField | None


def _spots(document: DocumentNode) -> dict[int, _Spot]:
    """The :class:`_Spot` of every node of ``document`` (by ``id``)."""
    found: dict[int, _Spot] = {}
    path: list[str] = []
    nodes: list[Node] = []
    type_info = TypeInfo(SCHEMA)

    def segment(node: Node) -> str | None:
        if isinstance(node, OperationDefinitionNode):
            name = f" {node.name.value}" if node.name else ""
            return f"{node.operation.value}{name}"
        if isinstance(node, FragmentDefinitionNode):
            return f"fragment {node.name.value}"
        if isinstance(node, InlineFragmentNode):
            on = node.type_condition
            return f"... on {on.name.value}" if on else "..."
        if isinstance(node, FieldNode):
            return (node.alias or node.name).value
        if isinstance(node, ArgumentNode):
            return node.name.value
        return None

    class Walk(Visitor):
        def enter(self, node: Node, *_: Any) -> None:
            own = segment(node)
            if own is not None:
                path.append(own)
            parent = type_info.get_parent_type()
            field_def = type_info.get_field_def() if isinstance(node, FieldNode) else None
            parent_name = parent.name if parent is not None else None
            found[id(node)] = _Spot(list(path), list(nodes), parent_name, field_def)
            nodes.append(node)

        def leave(self, node: Node, *_: Any) -> None:
            nodes.pop()
            if segment(node) is not None:
                path.pop()

    visit(document, TypeInfoVisitor(type_info, Walk()))
    return found


def _validation_errors(document: DocumentNode) -> list[JSON]:
    """The errors graphql-core's validation finds, each rule's in graphql-ruby's words."""
    spots = _spots(document)
    found: list[tuple[tuple[int, int], dict[str, Any]]] = []
    merged: dict[int, dict[str, Any]] = {}
    for rule in specified_rules:
        for error in validate(SCHEMA, document, [rule]):
            node = error.nodes[0] if error.nodes else None
            if isinstance(node, SelectionSetNode):  # graphql-core points into the field
                parents = spots[id(node)].parents
                node = next(p for p in reversed(parents) if isinstance(p, FieldNode))
            spot = spots.get(id(node)) if node is not None else None
            words = _RUBY_RULES.get(rule.__name__)
            message, extensions = (
                words(node, spot) if words is not None and spot is not None else (None, {})
            )
            if extensions.get("code") == "missingRequiredArguments" and id(node) in merged:
                continue  # graphql-ruby names every missing argument in one error
            answer: dict[str, Any] = {"path": spot.path} if spot is not None and spot.path else {}
            if extensions:
                answer["extensions"] = extensions
            answer.update(locations=_locations(error), message=message or error.message)
            if extensions.get("code") == "missingRequiredArguments":
                merged[id(node)] = answer
            where = error.locations[0] if error.locations else None
            found.append(((where.line, where.column) if where else (0, 0), answer))
    return [answer for _, answer in sorted(found, key=lambda f: f[0])]


_Words = tuple[str | None, dict[str, Any]]


def _undefined_field(node: Any, spot: _Spot) -> _Words:
    name, on = node.name.value, spot.parent_type
    message = f"Field '{name}' doesn't exist on type '{on}'"
    return message, {"code": "undefinedField", "typeName": on, "fieldName": name}


def _argument_not_accepted(node: Any, spot: _Spot) -> _Words:
    field = next((p for p in reversed(spot.parents) if isinstance(p, FieldNode)), None)
    if field is None:  # an argument of a directive
        return None, {}
    name, on = node.name.value, field.name.value
    return f"Field '{on}' doesn't accept argument '{name}'", {
        "code": "argumentNotAccepted",
        "name": on,
        "typeName": "Field",
        "argumentName": name,
    }


def _missing_arguments(node: Any, spot: _Spot) -> _Words:
    if not isinstance(node, FieldNode) or spot.field_def is None:
        return None, {}
    given = {a.name.value for a in node.arguments or ()}
    missing = [
        name
        for name, arg in spot.field_def.args.items()
        if is_non_null_type(arg.type) and arg.default_value is Undefined and name not in given
    ]
    names = ", ".join(missing)
    return f"Field '{node.name.value}' is missing required arguments: {names}", {
        "code": "missingRequiredArguments",
        "className": "Field",
        "name": node.name.value,
        "arguments": names,
    }


def _selection_mismatch(node: Any, spot: _Spot) -> _Words:
    if not isinstance(node, FieldNode) or spot.field_def is None:
        return None, {}
    name, returns = node.name.value, get_named_type(spot.field_def.type)
    extensions = {
        "code": "selectionMismatch",
        "nodeName": f"field '{name}'",
        "typeName": returns.name,
    }
    if node.selection_set is None:
        message = (
            f"Field must have selections (field '{name}' returns {returns.name} but has no "
            f"selections. Did you mean '{name} {{ ... }}'?)"
        )
    else:
        picked = ", ".join(
            s.name.value for s in node.selection_set.selections if isinstance(s, FieldNode)
        )
        message = (
            f"Selections can't be made on scalars (field '{name}' returns {returns.name} but "
            f"has selections [{picked}])"
        )
    return message, extensions


def _undefined_type(node: Any, spot: _Spot) -> _Words:
    name = node.name.value
    if any(isinstance(p, VariableDefinitionNode) for p in spot.parents):
        variable = next(p for p in spot.parents if isinstance(p, VariableDefinitionNode))
        message = f"{name} isn't a defined input type (on ${variable.variable.name.value})"
        return message, {"code": "variableRequiresValidType", "typeName": name}
    message = f"No such type {name}, so it can't be a fragment condition"
    return message, {"code": "undefinedType", "typeName": name}


def _spread_mismatch(node: Any, spot: _Spot) -> _Words:
    if not isinstance(node, InlineFragmentNode) or node.type_condition is None:
        return None, {}
    on, inside = node.type_condition.name.value, spot.parent_type
    return f"Fragment on {on} can't be spread inside {inside}", {
        "code": "fragmentSpreadTypeMismatch",
        "typeName": inside,
        "fragmentName": f"... on {on}",
    }


def _operation_name(spot: _Spot) -> str:
    operation = next((p for p in spot.parents if isinstance(p, OperationDefinitionNode)), None)
    return operation.name.value if operation is not None and operation.name else "anonymous query"


def _variable_not_defined(node: Any, spot: _Spot) -> _Words:
    name = node.name.value
    return f"Variable ${name} is used by {_operation_name(spot)} but not declared", {
        "code": "variableNotDefined",
        "variableName": name,
    }


def _variable_not_used(node: Any, spot: _Spot) -> _Words:
    name = node.variable.name.value
    return f"Variable ${name} is declared by {_operation_name(spot)} but not used", {
        "code": "variableNotUsed",
        "variableName": name,
    }


def _bad_literal(node: Any, spot: _Spot) -> _Words:
    argument = next((p for p in reversed(spot.parents) if isinstance(p, ArgumentNode)), None)
    field = next((p for p in reversed(spot.parents) if isinstance(p, FieldNode)), None)
    if argument is None or field is None:
        return None, {}
    name, on = argument.name.value, field.name.value
    message = f"Argument '{name}' on Field '{on}' has an invalid value ({print_ast(node)})."
    parent_def = SCHEMA.get_type(spot.parent_type or "")
    field_def = getattr(parent_def, "fields", {}).get(on)
    if field_def is not None and name in field_def.args:
        message += f" Expected type '{field_def.args[name].type}'."
    return message, {
        "code": "argumentLiteralsIncompatible",
        "typeName": "Field",
        "argumentName": name,
    }


def _unused_fragment(node: Any, spot: _Spot) -> _Words:
    name = node.name.value
    return f"Fragment {name} was defined, but not used", {
        "code": "useAndDefineFragment",
        "fragmentName": name,
    }


def _undefined_fragment(node: Any, spot: _Spot) -> _Words:
    name = node.name.value
    return f"Fragment {name} was used, but not defined", {
        "code": "useAndDefineFragment",
        "fragmentName": name,
    }


_RUBY_RULES: dict[str, Callable[[Any, _Spot], _Words]] = {
    "FieldsOnCorrectTypeRule": _undefined_field,
    "KnownArgumentNamesRule": _argument_not_accepted,
    "ProvidedRequiredArgumentsRule": _missing_arguments,
    "ScalarLeafsRule": _selection_mismatch,
    "KnownTypeNamesRule": _undefined_type,
    "PossibleFragmentSpreadsRule": _spread_mismatch,
    "NoUndefinedVariablesRule": _variable_not_defined,
    "NoUnusedVariablesRule": _variable_not_used,
    "ValuesOfCorrectTypeRule": _bad_literal,
    "NoUnusedFragmentsRule": _unused_fragment,
    "KnownFragmentNamesRule": _undefined_fragment,
}
"""graphql-ruby's words for the errors of graphql-core's validation rules (by rule)."""


# --- the objects -----------------------------------------------------------------------------


@dataclass
class _Page:
    """A connection: the page of ``items`` that ``first``/``last``/``after``/``before`` ask
    for, with GitHub's ``totalCount`` and ``pageInfo``."""

    items: list[Any]
    start: int
    total: int
    filtered: int
    has_next: bool
    has_previous: bool
    updated_at: str
    edge_fields: Callable[[Any], dict[str, Any]] | None = None
    """The fields of an edge beyond ``cursor`` and ``node`` (``TeamMemberEdge.role``)."""

    def nodes(self, info: _Info) -> list[Any]:
        return self.items

    def edges(self, info: _Info) -> list[dict[str, Any]]:
        extra = self.edge_fields or (lambda item: {})
        return [
            {"cursor": _cursor(self.start + i), "node": item, **extra(item)}
            for i, item in enumerate(self.items)
        ]

    def pageInfo(self, info: _Info) -> dict[str, Any]:
        last = self.start + len(self.items) - 1
        return {
            "startCursor": _cursor(self.start) if self.items else None,
            "endCursor": _cursor(last) if self.items else None,
            "hasNextPage": self.has_next,
            "hasPreviousPage": self.has_previous,
        }

    def totalCount(self, info: _Info) -> int:
        return self.total

    def filteredCount(self, info: _Info) -> int:
        return self.filtered

    def pageCount(self, info: _Info) -> int:
        return len(self.items)

    def updatedAt(self, info: _Info) -> str:
        return self.updated_at


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _offset(cursor: str, name: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if text.startswith("cursor:v2:"):
            return int(text.removeprefix("cursor:v2:"))
    except ValueError:
        pass
    raise _GitHubError(None, f"`{name}` has an invalid value ({cursor!r}).")


def _page(
    items: Sequence[Any],
    info: _Info,
    *,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    skip: int | None = None,
    updated_at: str = "",
    edge_fields: Callable[[Any], dict[str, Any]] | None = None,
) -> _Page:
    """The page of ``items`` the connection arguments select, checked as GitHub checks them."""
    field = info.field_name
    if first is None and last is None:
        raise _GitHubError(
            "MISSING_PAGINATION_BOUNDARIES",
            f"You must provide a `first` or `last` value to properly paginate the `{field}` "
            "connection.",
            pre_execution=True,
        )
    if first is not None and last is not None:
        raise _GitHubError(
            None,
            f"Passing both `first` and `last` to paginate the `{field}` connection is not "
            "supported.",
            pre_execution=True,
        )
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise _GitHubError(
                "EXCESSIVE_PAGINATION",
                f"Requesting {value} records on the `{field}` connection exceeds the `{name}` "
                f"limit of {MAX_PAGE} records.",
                pre_execution=True,
            )
        if value is not None and value < 0:
            raise _GitHubError(
                None, f"`{name}` on the `{field}` connection cannot be less than zero."
            )
    start, end = 0, len(items)
    if after is not None:
        start = max(start, _offset(after, "after") + 1)
    if before is not None:
        end = min(end, _offset(before, "before"))
    start = min(start + max(skip or 0, 0), end)
    filtered = max(end - start, 0)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    return _Page(
        items=list(items[start:end]),
        start=start,
        total=len(items),
        filtered=filtered,
        has_next=end < len(items),
        has_previous=start > 0,
        updated_at=updated_at or _iso(),
        edge_fields=edge_fields,
    )


class _Obj:
    """A GraphQL object over the fake's state: its methods (named as GraphQL fields) resolve
    the fields; ``typename`` is its type."""

    typename = ""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    def id(self, info: _Info | None) -> str:
        """The node id (objects that are no ``Node`` have none)."""
        raise NotImplementedError(self.typename)


class _Root(_Obj):
    def viewer(self, info: _Info) -> _Actor:
        return _Actor(self.fake, self.fake.actor, viewer=True)

    def repository(
        self, info: _Info, owner: str, name: str, followRenames: bool = True
    ) -> _Repository:
        repo = _find_repo(self.fake, owner, name)
        if repo is None:
            raise _not_found(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return _Repository(self.fake, repo)

    def organization(self, info: _Info, login: str) -> _Actor:
        found = next(
            (u for u in self.fake._users.values() if u.organization and _same(u.login, login)),
            None,
        )
        if found is None:
            raise _not_found(f"Could not resolve to an Organization with the login of '{login}'.")
        return _Actor(self.fake, found.login)

    def node(self, info: _Info, id: str) -> _Obj:
        found = _resolve_node(self.fake, id)
        if found is None:
            raise _not_found(f"Could not resolve to a node with the global id of '{id}'")
        return found

    def nodes(self, info: _Info, ids: list[str]) -> list[_Obj | Exception]:
        return [
            _resolve_node(self.fake, i)
            or _not_found(f"Could not resolve to a node with the global id of '{i}'")
            for i in ids
        ]


def _same(login: str, other: str) -> bool:
    """Logins, slugs and names are case-insensitive on GitHub."""
    return login.lower() == other.lower()


def _find_repo(fake: FakeGitHub, owner: str, name: str) -> _Repo | None:
    for (repo_owner, repo_name), repo in fake._repos.items():
        if repo_owner.lower() == owner.lower() and repo_name.lower() == name.lower():
            return repo
    return None


class _Actor(_Obj):
    """A ``User``, ``Organization`` or ``Bot`` (``viewer``: always a ``User``)."""

    def __init__(self, fake: FakeGitHub, login: str, *, viewer: bool = False) -> None:
        super().__init__(fake)
        self.user: _User = fake._user(login)
        self.rest_kind = (
            "Bot" if self.user.bot else "Organization" if self.user.organization else "User"
        )
        self.typename = "User" if viewer else self.rest_kind
        self.name_ = login if viewer else login.removesuffix("[bot]")

    def id(self, info: _Info) -> str:
        return _node_id(self.rest_kind, self.user.id)

    def databaseId(self, info: _Info) -> int:
        return self.user.id

    def login(self, info: _Info) -> str:
        return self.name_

    def name(self, info: _Info) -> str | None:
        return None

    def email(self, info: _Info) -> str:
        return ""  # only a public email is shown; the fake's accounts have none

    def avatarUrl(self, info: _Info, size: int | None = None) -> str:
        url = f"https://avatars.githubusercontent.com/u/{self.user.id}?v=4"
        return f"{url}&s={size}" if size else url

    def resourcePath(self, info: _Info) -> str:
        if self.user.bot:
            return f"/apps/{self.user.login.removesuffix('[bot]')}"
        return f"/{self.user.login}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)

    def repository(self, info: _Info, name: str, followRenames: bool = True) -> _Repository | None:
        repo = _find_repo(self.fake, self.user.login, name)
        return _Repository(self.fake, repo) if repo is not None else None

    def team(self, info: _Info, slug: str) -> _TeamNode | None:
        """``Organization.team``: ``null`` for no such team; a team the token may not read
        (:meth:`FakeGitHub.set_team_forbidden`) is ``null`` with a ``FORBIDDEN`` error."""
        team = next(
            (
                t
                for (org, key), t in self.fake._teams.items()
                if org == self.user.login and _same(key, slug)
            ),
            None,
        )
        if team is None:
            return None
        if team.forbidden:
            raise _forbidden()
        return _TeamNode(self.fake, team)


def _actor(fake: FakeGitHub, login: str | None) -> _Actor | None:
    return _Actor(fake, login) if login else None


class _Repository(_Obj):
    typename = "Repository"

    def __init__(self, fake: FakeGitHub, repo: _Repo) -> None:
        super().__init__(fake)
        self.repo = repo

    def id(self, info: _Info) -> str:
        return _node_id("Repository", self.repo.id)

    def databaseId(self, info: _Info) -> int:
        return self.repo.id

    def name(self, info: _Info) -> str:
        return self.repo.name

    def nameWithOwner(self, info: _Info) -> str:
        return self.repo.full_name

    def owner(self, info: _Info) -> _Actor:
        return _Actor(self.fake, self.repo.owner)

    def isPrivate(self, info: _Info) -> bool:
        return self.repo.private

    def resourcePath(self, info: _Info) -> str:
        return f"/{self.repo.full_name}"

    def url(self, info: _Info) -> str:
        return f"{self.fake.server_url}/{self.repo.full_name}"

    def object(
        self, info: _Info, oid: str | None = None, expression: str | None = None
    ) -> _GitCommit | None:
        """A commit the fake knows, by ``oid`` or by an ``expression`` that is a full SHA, a
        branch that is a pull request's head or base, or ``HEAD`` (the default branch); the
        fake has no trees or blobs (``main:path`` is ``null``)."""
        sha = oid
        if sha is None and expression is not None and ":" not in expression:
            ref = expression.removeprefix("refs/heads/")
            ref = self.repo.default_branch if ref == "HEAD" else ref
            sha = self.fake._resolve_ref(self.repo, ref)
        return _find_commit(self.fake, self.repo, sha) if sha else None

    def pullRequest(self, info: _Info, number: int) -> _IssueLike:
        issue = self.repo.issues.get(number)
        if issue is None or issue.pull is None:
            raise _not_found(f"Could not resolve to a PullRequest with the number of {number}.")
        return _IssueLike(self.fake, self.repo, issue)

    def issue(self, info: _Info, number: int) -> _IssueLike:
        issue = self.repo.issues.get(number)
        if issue is None or issue.pull is not None:
            raise _not_found(f"Could not resolve to an Issue with the number of {number}.")
        return _IssueLike(self.fake, self.repo, issue)

    def issueOrPullRequest(self, info: _Info, number: int) -> _IssueLike:
        issue = self.repo.issues.get(number)
        if issue is None:
            raise _not_found(
                f"Could not resolve to an issue or pull request with the number of {number}."
            )
        return _IssueLike(self.fake, self.repo, issue)


class _Edited(_Obj):
    """The edit history fields of ``Comment`` (an issue, a pull request, an issue comment)."""

    edits: list[_Edit]

    def editor(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.edits[-1].editor) if self.edits else None

    def lastEditedAt(self, info: _Info) -> str | None:
        return self.edits[-1].edited_at if self.edits else None

    def includesCreatedEdit(self, info: _Info) -> bool:
        return bool(self.edits)

    def userContentEdits(self, info: _Info, **args: Any) -> _Page:
        newest_first = [_UserContentEdit(self.fake, e) for e in reversed(self.edits)]
        updated = self.edits[-1].edited_at if self.edits else ""
        return _page(newest_first, info, updated_at=updated, **args)


class _IssueLike(_Edited):
    """An ``Issue`` or a ``PullRequest``."""

    def __init__(self, fake: FakeGitHub, repo: _Repo, issue: _Issue) -> None:
        super().__init__(fake)
        self.repo, self.issue, self.edits = repo, issue, issue.edits
        self.typename = "Issue" if issue.pull is None else "PullRequest"

    @property
    def pull(self) -> _Pull:
        assert self.issue.pull is not None  # only PullRequest has the fields that ask
        return self.issue.pull

    def id(self, info: _Info) -> str:
        return _node_id(self.typename, self.issue.id)

    def databaseId(self, info: _Info) -> int:
        return self.issue.id

    def fullDatabaseId(self, info: _Info) -> str:
        return str(self.issue.id)  # a BigInt is a string

    def number(self, info: _Info) -> int:
        return self.issue.number

    def title(self, info: _Info) -> str:
        return self.issue.title

    def body(self, info: _Info) -> str:
        return self.issue.body or ""

    def author(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.issue.author)

    def createdAt(self, info: _Info) -> str:
        return self.issue.created_at

    def updatedAt(self, info: _Info) -> str:
        return self.issue.updated_at

    def repository(self, info: _Info) -> _Repository:
        return _Repository(self.fake, self.repo)

    def resourcePath(self, info: _Info) -> str:
        kind = "issues" if self.issue.pull is None else "pull"
        return f"/{self.repo.full_name}/{kind}/{self.issue.number}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)

    def state(self, info: _Info) -> str:
        if self.issue.pull is not None and self.issue.pull.merged:
            return "MERGED"
        return self.issue.state.upper()

    def baseRefName(self, info: _Info) -> str:
        return self.pull.base_ref

    def baseRefOid(self, info: _Info) -> str:
        return self.pull.base_sha

    def headRefName(self, info: _Info) -> str:
        return self.pull.head_ref

    def headRefOid(self, info: _Info) -> str:
        return self.pull.head_sha

    def isDraft(self, info: _Info) -> bool:
        return self.pull.draft

    def merged(self, info: _Info) -> bool:
        return self.pull.merged

    def labels(self, info: _Info, orderBy: dict[str, str] | None = None, **args: Any) -> _Page:
        """Oldest label first (``CREATED_AT``: the order the repository's labels were created
        in, as their ids), or by ``NAME`` (case-insensitive)."""
        labels = [_Label(self.fake, self.repo, name) for name in self.issue.labels]
        order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
        if order["field"] == "NAME":
            labels.sort(key=lambda label: (label.label.lower(), label.label_id))
        else:
            labels.sort(key=lambda label: label.label_id)
        if order["direction"] == "DESC":
            labels.reverse()
        return _page(labels, info, **args)

    def comments(self, info: _Info, orderBy: dict[str, str] | None = None, **args: Any) -> _Page:
        """The issue comments REST lists, oldest first (or by ``UPDATED_AT``)."""
        said = self.fake._comments_of(self.repo, self.issue.number)
        if orderBy is not None:
            said.sort(key=lambda c: (c.updated_at, c.id), reverse=orderBy["direction"] == "DESC")
        return _page([_IssueComment(self.fake, self.repo, c) for c in said], info, **args)

    def reviewRequests(self, info: _Info, **args: Any) -> _Page:
        """The pending requests REST lists: the users', then the teams' (each in request
        order)."""
        requests = [_ReviewRequest(self, login=login) for login in self.pull.requested_users]
        requests += [
            _ReviewRequest(self, team=self.fake._teams[(self.repo.owner, slug)])
            for slug in self.pull.requested_teams
        ]
        return _page(requests, info, **args)

    def reviews(
        self,
        info: _Info,
        states: list[str] | None = None,
        author: str | None = None,
        **args: Any,
    ) -> _Page:
        """The submitted reviews REST lists, oldest first; ``author`` is a login (a bot's with
        or without ``[bot]``)."""
        reviews = [
            _PullRequestReview(self, review)
            for review in self.pull.reviews
            if (states is None or review.state in states)
            and (
                author is None
                or _same(review.login, author)
                or _same(review.login.removesuffix("[bot]"), author)
            )
        ]
        return _page(reviews, info, **args)

    def commits(self, info: _Info, **args: Any) -> _Page:
        items = [_PullRequestCommit(self.fake, self.repo, self.issue, c) for c in self.pull.commits]
        return _page(items, info, updated_at=self.issue.updated_at, **args)

    def timelineItems(
        self,
        info: _Info,
        itemTypes: list[str] | None = None,
        since: str | None = None,
        **args: Any,
    ) -> _Page:
        after = _parse_time(since)
        items = [
            item
            for at, kind, item in self._timeline()
            if (itemTypes is None or kind in itemTypes)
            and (after is None or (_parse_time(at) or after) >= after)
        ]
        return _page(items, info, updated_at=self.issue.updated_at, **args)

    def _timeline(self) -> list[tuple[str, str, _Obj]]:
        """``(time, item type, item)`` of every timeline item here, oldest first."""
        found: list[tuple[str, int, str, _Obj]] = []
        for seq, commit in enumerate(self.pull.commits):
            pushed = _PullRequestCommit(self.fake, self.repo, self.issue, commit)
            found.append((commit.date, seq, "PULL_REQUEST_COMMIT", pushed))
        for comment in self.fake._comments_of(self.repo, self.issue.number):
            said = _IssueComment(self.fake, self.repo, comment)
            found.append((comment.created_at, comment.id, "ISSUE_COMMENT", said))
        for event in self.repo.events:
            kind = _TIMELINE_EVENTS.get(event.event)
            if event.number == self.issue.number and kind is not None:
                found.append(
                    (event.created_at, event.id, kind, _IssueEvent(self.fake, self.repo, event))
                )
        found.sort(key=lambda f: (f[0], f[1]))
        return [(at, kind, item) for at, _, kind, item in found]


class _IssueComment(_Edited):
    typename = "IssueComment"

    def __init__(self, fake: FakeGitHub, repo: _Repo, comment: _Comment) -> None:
        super().__init__(fake)
        self.repo, self.comment, self.edits = repo, comment, comment.edits

    def id(self, info: _Info) -> str:
        return _node_id("IssueComment", self.comment.id)

    def databaseId(self, info: _Info) -> int:
        return self.comment.id

    def fullDatabaseId(self, info: _Info) -> str:
        return str(self.comment.id)

    def body(self, info: _Info) -> str:
        return self.comment.body

    def author(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.comment.login)

    def createdAt(self, info: _Info) -> str:
        return self.comment.created_at

    def updatedAt(self, info: _Info) -> str:
        return self.comment.updated_at

    def repository(self, info: _Info) -> _Repository:
        return _Repository(self.fake, self.repo)

    def pullRequest(self, info: _Info) -> _IssueLike | None:
        issue = self.repo.issues.get(self.comment.number)
        if issue is None or issue.pull is None:
            return None
        return _IssueLike(self.fake, self.repo, issue)

    def resourcePath(self, info: _Info) -> str:
        issue = self.repo.issues.get(self.comment.number)
        kind = "pull" if issue is not None and issue.pull is not None else "issues"
        number = self.comment.number
        return f"/{self.repo.full_name}/{kind}/{number}#issuecomment-{self.comment.id}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)


class _UserContentEdit(_Obj):
    typename = "UserContentEdit"

    def __init__(self, fake: FakeGitHub, edit: _Edit) -> None:
        super().__init__(fake)
        self.edit = edit

    def id(self, info: _Info) -> str:
        return _node_id("UserContentEdit", self.edit.id)

    def editedAt(self, info: _Info) -> str:
        return self.edit.edited_at

    def createdAt(self, info: _Info) -> str:
        return self.edit.edited_at

    def updatedAt(self, info: _Info) -> str:
        return self.edit.edited_at

    def editor(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.edit.editor)

    def diff(self, info: _Info) -> str:
        return self.edit.body

    deletedAt = None
    deletedBy = None


class _IssueEvent(_Obj):
    """An issue event with a GraphQL type (``LabeledEvent``, ``CommentDeletedEvent``, ...)."""

    def __init__(self, fake: FakeGitHub, repo: _Repo, event: _Event) -> None:
        super().__init__(fake)
        self.repo, self.event = repo, event
        self.typename = _event_node_kind(event.event)

    def id(self, info: _Info) -> str:
        return _node_id(self.typename, self.event.id)

    def databaseId(self, info: _Info) -> int:
        return self.event.id

    def actor(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.event.actor)

    def createdAt(self, info: _Info) -> str:
        return self.event.created_at

    def deletedCommentAuthor(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.event.deleted_author)

    def label(self, info: _Info) -> _Label:
        return _Label(self.fake, self.repo, self.event.label or "")

    def pullRequest(self, info: _Info) -> _IssueLike:
        return _IssueLike(self.fake, self.repo, self.repo.issues[self.event.number])

    def resourcePath(self, info: _Info) -> str:
        return f"/{self.repo.full_name}/pull/{self.event.number}#event-{self.event.id}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)

    def beforeCommit(self, info: _Info) -> _GitCommit | None:
        return self._commit(self.event.before_sha)

    def afterCommit(self, info: _Info) -> _GitCommit | None:
        return self._commit(self.event.after_sha)

    def _commit(self, sha: str | None) -> _GitCommit | None:
        if sha is None:
            return None
        issue = self.repo.issues[self.event.number]
        pull = issue.pull
        known = next((c for c in pull.commits if c.sha == sha), None) if pull else None
        commit = known or _Commit(sha, issue.author, issue.author, f"Change flags ({sha[:7]})", "")
        return _GitCommit(self.fake, self.repo, commit, fallback_date=self.event.created_at)


class _Label(_Obj):
    typename = "Label"

    def __init__(self, fake: FakeGitHub, repo: _Repo, name: str) -> None:
        super().__init__(fake)
        self.repo, self.label = repo, name
        if name not in repo.label_ids:  # numbered on first sight, as REST numbers it
            repo.label_ids[name] = next(fake._ids)
        self.label_id = repo.label_ids[name]

    def id(self, info: _Info) -> str:
        return _node_id("Label", self.label_id)

    def name(self, info: _Info) -> str:
        return self.label

    def color(self, info: _Info) -> str:
        return _label_color(self.label)


class _PullRequestCommit(_Obj):
    typename = "PullRequestCommit"

    def __init__(self, fake: FakeGitHub, repo: _Repo, issue: _Issue, commit: _Commit) -> None:
        super().__init__(fake)
        self.repo, self.issue, self.git = repo, issue, commit

    def id(self, info: _Info) -> str:
        return _legacy_id("PullRequestCommit", f"{self.issue.id}:{self.git.sha}")

    def commit(self, info: _Info) -> _GitCommit:
        return _GitCommit(self.fake, self.repo, self.git)

    def pullRequest(self, info: _Info) -> _IssueLike:
        return _IssueLike(self.fake, self.repo, self.issue)

    def resourcePath(self, info: _Info) -> str:
        return f"/{self.repo.full_name}/pull/{self.issue.number}/commits/{self.git.sha}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)


class _GitCommit(_Obj):
    typename = "Commit"

    def __init__(
        self, fake: FakeGitHub, repo: _Repo, commit: _Commit, *, fallback_date: str = ""
    ) -> None:
        super().__init__(fake)
        self.repo, self.git = repo, commit
        self.date = commit.date or fallback_date

    def id(self, info: _Info) -> str:
        return _legacy_id("Commit", f"{self.repo.id}:{self.git.sha}")  # REST's timeline node_id

    def oid(self, info: _Info) -> str:
        return self.git.sha

    def abbreviatedOid(self, info: _Info) -> str:
        return self.git.sha[:7]

    def message(self, info: _Info) -> str:
        return self.git.message

    def messageHeadline(self, info: _Info) -> str:
        return self.git.message.split("\n", 1)[0]

    def messageBody(self, info: _Info) -> str:
        rest = self.git.message.split("\n", 1)[1] if "\n" in self.git.message else ""
        return rest.strip("\n")

    def authoredDate(self, info: _Info) -> str:
        return self.date

    def committedDate(self, info: _Info) -> str:
        return self.date

    def author(self, info: _Info) -> _GitActor:
        return _GitActor.of_login(self.fake, self.git.author, self.date)

    def committer(self, info: _Info) -> _GitActor:
        return _GitActor.of_login(self.fake, self.git.committer, self.date)

    def authors(self, info: _Info, **args: Any) -> _Page:
        """The git author, then one per ``Co-authored-by:`` trailer (each address once)."""
        actors = [_GitActor.of_login(self.fake, self.git.author, self.date)]
        seen = {(actors[0].email or "").lower()}
        for name, email in co_authors(self.git.message):
            if email.lower() not in seen:
                seen.add(email.lower())
                actors.append(_GitActor(self.fake, name, email, self.date))
        return _page(actors, info, **args)

    def resourcePath(self, info: _Info) -> str:
        return f"/{self.repo.full_name}/commit/{self.git.sha}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)

    def commitResourcePath(self, info: _Info) -> str:
        return self.resourcePath(info)

    def commitUrl(self, info: _Info) -> str:
        return self.url(info)

    def repository(self, info: _Info) -> _Repository:
        return _Repository(self.fake, self.repo)

    def status(self, info: _Info) -> _StatusNode | None:
        """The combined status (``null`` when the commit has none), as REST's
        ``GET /commits/{ref}/status``."""
        if not any(s.sha == self.git.sha for s in self.repo.statuses):
            return None
        return _StatusNode(self.fake, self.repo, self.git.sha)


def _find_commit(fake: FakeGitHub, repo: _Repo, sha: str) -> _GitCommit | None:
    """The commit ``sha`` of ``repo``, if the fake knows it: a pull request's commit (as REST
    lists it), or else a head, base, merge commit, force-pushed head, pushed commit or a
    commit with statuses, made up as the fake shows commits it has no details of: by the pull
    request's author (a head), or by an unknown git identity (``user`` ``null``); a commit a
    review names is known too."""
    pulls = [i for i in repo.issues.values() if i.pull is not None]
    for issue in pulls:
        assert issue.pull is not None
        for commit in issue.pull.commits:
            if commit.sha == sha:
                return _GitCommit(fake, repo, commit)
    message = f"Change flags ({sha[:7]})"
    for issue in pulls:
        assert issue.pull is not None
        if issue.pull.head_sha == sha:
            made_up = _Commit(sha, issue.author, issue.author, message, "")
            return _GitCommit(fake, repo, made_up, fallback_date=issue.created_at)
    for event in repo.events:
        if sha in (event.before_sha, event.after_sha):
            author = repo.issues[event.number].author
            made_up = _Commit(sha, author, author, message, "")
            return _GitCommit(fake, repo, made_up, fallback_date=event.created_at)
    reviewed = any(r.commit_id == sha for i in pulls if i.pull for r in i.pull.reviews)
    # GitHub keeps a reviewed commit reachable (the review shows it as outdated after a push).
    if reviewed or sha in fake._known_shas(repo) or any(s.sha == sha for s in repo.statuses):
        made_up = _Commit(sha, None, None, message, "")
        return _GitCommit(fake, repo, made_up, fallback_date=repo.created_at)
    return None


class _StatusNode(_Obj):
    """A commit's combined status (``Status``)."""

    typename = "Status"

    def __init__(self, fake: FakeGitHub, repo: _Repo, sha: str) -> None:
        super().__init__(fake)
        self.repo, self.sha = repo, sha

    def _latest(self) -> list[_Status]:
        """The newest status of each context, newest first (REST's combined ``statuses``)."""
        latest: dict[str, _Status] = {}
        for status in self.repo.statuses:
            if status.sha == self.sha:
                latest[status.context] = status
        return sorted(latest.values(), key=lambda s: s.id, reverse=True)

    def id(self, info: _Info) -> str:
        return _legacy_id("Status", f"{self.repo.id}:{self.sha}")

    def state(self, info: _Info) -> str:
        return _combined_state([s.state for s in self._latest()]).upper()

    def contexts(self, info: _Info) -> list[_StatusContext]:
        return [_StatusContext(self.fake, self.repo, s) for s in self._latest()]

    def context(self, info: _Info, name: str) -> _StatusContext | None:
        found = next((s for s in self._latest() if s.context == name), None)
        return _StatusContext(self.fake, self.repo, found) if found is not None else None

    def commit(self, info: _Info) -> _GitCommit | None:
        return _find_commit(self.fake, self.repo, self.sha)


class _StatusContext(_Obj):
    typename = "StatusContext"

    def __init__(self, fake: FakeGitHub, repo: _Repo, status: _Status) -> None:
        super().__init__(fake)
        self.repo, self.status = repo, status

    def id(self, info: _Info) -> str:
        return _node_id("StatusContext", self.status.id)  # REST's node_id

    def context(self, info: _Info) -> str:
        return self.status.context

    def state(self, info: _Info) -> str:
        return self.status.state.upper()

    def description(self, info: _Info) -> str | None:
        return self.status.description

    def targetUrl(self, info: _Info) -> str | None:
        return self.status.target_url

    def createdAt(self, info: _Info) -> str:
        return self.status.created_at

    def creator(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.status.creator)

    def commit(self, info: _Info) -> _GitCommit | None:
        return _find_commit(self.fake, self.repo, self.status.sha)


class _PullRequestReview(_Edited):
    """A submitted review (the fake keeps no edits of reviews: ``editor`` is ``null``)."""

    typename = "PullRequestReview"

    def __init__(self, pull: _IssueLike, review: _Review) -> None:
        super().__init__(pull.fake)
        self.pull, self.repo, self.review = pull, pull.repo, review
        self.edits: list[_Edit] = []

    def id(self, info: _Info) -> str:
        return _node_id("PullRequestReview", self.review.id)  # REST's node_id

    def databaseId(self, info: _Info) -> int:
        return self.review.id

    def fullDatabaseId(self, info: _Info) -> str:
        return str(self.review.id)

    def state(self, info: _Info) -> str:
        return self.review.state

    def body(self, info: _Info) -> str:
        return self.review.body

    def author(self, info: _Info) -> _Actor | None:
        return _actor(self.fake, self.review.login)

    def authorAssociation(self, info: _Info) -> str:
        return self.fake._association(self.repo, self.review.login)

    def commit(self, info: _Info) -> _GitCommit | None:
        sha = self.review.commit_id
        return _find_commit(self.fake, self.repo, sha) if sha else None

    def submittedAt(self, info: _Info) -> str:
        return self.review.submitted_at

    createdAt = publishedAt = updatedAt = submittedAt

    def pullRequest(self, info: _Info) -> _IssueLike:
        return self.pull

    def repository(self, info: _Info) -> _Repository:
        return _Repository(self.fake, self.repo)

    def resourcePath(self, info: _Info) -> str:
        number = self.pull.issue.number
        return f"/{self.repo.full_name}/pull/{number}#pullrequestreview-{self.review.id}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)


class _ReviewRequest(_Obj):
    """A pending review request of a user (or bot) or of a team."""

    typename = "ReviewRequest"

    def __init__(
        self, pull: _IssueLike, *, login: str | None = None, team: _Team | None = None
    ) -> None:
        super().__init__(pull.fake)
        self.pull, self.login, self.team = pull, login, team

    def id(self, info: _Info) -> str:
        if self.team is not None:
            who = f"Team{self.team.id}"
        else:
            who = f"User{self.fake._user(self.login or '').id}"
        return _legacy_id("ReviewRequest", f"{self.pull.issue.id}:{who}")

    def asCodeOwner(self, info: _Info) -> bool:
        return False  # the fake has no CODEOWNERS

    def pullRequest(self, info: _Info) -> _IssueLike:
        return self.pull

    def requestedReviewer(self, info: _Info) -> _Obj | None:
        if self.team is not None:
            return _TeamNode(self.fake, self.team)
        return _actor(self.fake, self.login)


class _TeamNode(_Obj):
    typename = "Team"

    def __init__(self, fake: FakeGitHub, team: _Team) -> None:
        super().__init__(fake)
        self.team = team

    def id(self, info: _Info) -> str:
        return _node_id("Team", self.team.id)

    def databaseId(self, info: _Info) -> int:
        return self.team.id

    def slug(self, info: _Info) -> str:
        return self.team.slug

    def name(self, info: _Info) -> str:
        return self.team.name

    def combinedSlug(self, info: _Info) -> str:
        return f"{self.team.org}/{self.team.slug}"

    def organization(self, info: _Info) -> _Actor:
        return _Actor(self.fake, self.team.org)

    def resourcePath(self, info: _Info) -> str:
        return f"/orgs/{self.team.org}/teams/{self.team.slug}"

    def url(self, info: _Info) -> str:
        return self.fake.server_url + self.resourcePath(info)

    def members(
        self,
        info: _Info,
        query: str | None = None,
        membership: str = "ALL",
        role: str | None = None,
        orderBy: dict[str, str] | None = None,
        **args: Any,
    ) -> _Page:
        """The active members (a pending invitation is no membership), in the order they
        were added, as REST's ``GET /orgs/{org}/teams/{slug}/members`` lists them.

        ``query`` keeps the members whose login or name contains it, case-insensitive (the
        fake's accounts have no name: the login); GitHub's search is fuzzier. The fake has no
        child teams: ``CHILD_TEAM`` lists nobody, ``IMMEDIATE`` as ``ALL``. ``orderBy``
        ``CREATED_AT`` is the order members were added. A team the token may not read is a
        ``FORBIDDEN`` error, as for ``Organization.team``."""
        if self.team.forbidden:
            raise _forbidden()
        roles = self.team.roles
        logins = [
            login
            for login, state in self.team.members.items()
            if state == "active"
            and membership != "CHILD_TEAM"
            and (role is None or roles.get(login, "member").upper() == role)
            and (not query or query.strip().lower() in login.lower())
        ]
        if orderBy is not None and orderBy["field"] == "LOGIN":
            logins.sort(key=str.lower)
        if orderBy is not None and orderBy["direction"] == "DESC":
            logins.reverse()
        users = [_Actor(self.fake, login) for login in logins]
        return _page(
            users,
            info,
            edge_fields=lambda user: {"role": roles.get(user.user.login, "member").upper()},
            **args,
        )


class _GitActor(_Obj):
    typename = "GitActor"

    def __init__(self, fake: FakeGitHub, name: str, email: str, date: str) -> None:
        super().__init__(fake)
        self.name, self.email, self.date = name, email, date

    @classmethod
    def of_login(cls, fake: FakeGitHub, login: str | None, date: str) -> _GitActor:
        """The git identity the fake gives a login (as REST's ``commit.author`` shows it)."""
        identity = fake._git_identity(login, date)
        return cls(fake, identity["name"], identity["email"], date)

    def user(self, info: _Info) -> _Actor | None:
        account = linked_user(self.fake, self.email)
        if account is None or account.bot or account.organization:
            return None  # GitActor.user is a User: a bot's commits link none
        return _Actor(self.fake, account.login)


_NOREPLY = re.compile(r"^(?:(\d+)\+)?([^@+]+)@users\.noreply\.github\.com$", re.IGNORECASE)
_TRAILER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*:\s*\S")
_CO_AUTHOR = re.compile(r"^co-authored-by:\s*(.*?)\s*<([^<>\s]+)>\s*$", re.IGNORECASE)


def linked_user(fake: FakeGitHub, email: str | None) -> _User | None:
    """The account GitHub links a git email to: ``login@users.noreply.github.com``, or
    ``<id>+login@users.noreply.github.com`` with that account's id, of a known account, or an
    address registered with :meth:`FakeGitHub.add_user` (``emails``); ``None`` otherwise."""
    if not email:
        return None
    noreply = _NOREPLY.match(email)
    for user in fake._users.values():
        if noreply is not None:
            id_ok = noreply[1] is None or int(noreply[1]) == user.id
            if id_ok and noreply[2].lower() == user.login.lower():
                return user
        elif email.lower() in (e.lower() for e in user.emails):
            return user
    return None


def co_authors(message: str) -> list[tuple[str, str]]:
    """``(name, email)`` of each ``Co-authored-by: Name <email>`` trailer of ``message``.

    As git reads trailers (and GitHub after it): only in the message's last paragraph, after a
    blank line, when every line of it is a ``Key: value`` trailer (or a continuation line);
    the key is case-insensitive."""
    paragraphs = re.split(r"\n[ \t]*\n", message.strip("\n"))
    if len(paragraphs) < 2:
        return []
    lines = paragraphs[-1].splitlines()
    if not all(_TRAILER.match(line) or line[:1] in (" ", "\t") for line in lines):
        return []
    return [(m[1], m[2]) for line in lines if (m := _CO_AUTHOR.match(line.strip()))]


# --- node ids --------------------------------------------------------------------------------


def _legacy_id(kind: str, rest: str) -> str:
    """A legacy node id with a compound key (``06:Commit<repo id>:<sha>``)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{rest}".encode()).decode()


def _decode_id(node_id: str) -> tuple[str, str] | None:
    """``(type, key)`` of a legacy node id, or ``None``."""
    try:
        text = base64.b64decode(node_id, validate=True).decode()
    except ValueError:
        return None
    match = re.match(r"^0(\d+):", text)
    if match is None:
        return None
    size, rest = int(match[1]), text[match.end() :]
    return (rest[:size], rest[size:]) if len(rest) > size else None


def _resolve_node(fake: FakeGitHub, node_id: str) -> _Obj | None:
    """The object whose REST ``node_id`` (and GraphQL ``id``) is ``node_id``, or ``None``."""
    decoded = _decode_id(node_id)
    if decoded is None:
        return None
    kind, key = decoded
    return next((obj for obj in _candidates(fake, kind, key) if obj.id(None) == node_id), None)


def _candidates(fake: FakeGitHub, kind: str, key: str) -> Iterator[_Obj]:
    """The objects a node id of type ``kind`` with key ``key`` may name."""
    if kind in ("User", "Bot", "Organization"):
        yield from (_Actor(fake, u.login) for u in fake._users.values() if str(u.id) == key)
    if kind == "Team":
        yield from (_TeamNode(fake, t) for t in fake._teams.values())
        return
    for repo in fake._repos.values():
        pulls = [_IssueLike(fake, repo, i) for i in repo.issues.values() if i.pull is not None]
        if kind == "Repository":
            yield _Repository(fake, repo)
        elif kind in ("Issue", "PullRequest"):
            yield from (_IssueLike(fake, repo, i) for i in repo.issues.values())
        elif kind == "IssueComment":
            yield from (_IssueComment(fake, repo, c) for c in repo.comments.values())
        elif kind == "Label":
            yield from (_Label(fake, repo, name) for name in repo.label_ids)
        elif kind == "UserContentEdit":
            histories = [i.edits for i in repo.issues.values()]
            histories += [c.edits for c in repo.comments.values()]
            yield from (_UserContentEdit(fake, e) for edits in histories for e in edits)
        elif kind == "PullRequestReview":
            yield from (_PullRequestReview(p, r) for p in pulls for r in p.pull.reviews)
        elif kind == "ReviewRequest":
            for pull in pulls:
                yield from (_ReviewRequest(pull, login=u) for u in pull.pull.requested_users)
                teams = (fake._teams[(repo.owner, s)] for s in pull.pull.requested_teams)
                yield from (_ReviewRequest(pull, team=t) for t in teams)
        elif kind == "StatusContext":
            yield from (_StatusContext(fake, repo, s) for s in repo.statuses)
        elif kind in ("Commit", "PullRequestCommit"):
            for issue in repo.issues.values():
                for commit in issue.pull.commits if issue.pull is not None else ():
                    yield _PullRequestCommit(fake, repo, issue, commit)
                    yield _GitCommit(fake, repo, commit)
        else:
            timeline = (e for e in repo.events if e.event in _TIMELINE_EVENTS)
            yield from (_IssueEvent(fake, repo, e) for e in timeline)
