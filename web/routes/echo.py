"""Echo Brain: prompt enhancement, scene, dialogue and episode suggestions, brainstorming,
storyline analysis, and accepting what it suggested."""

from __future__ import annotations

from web import echo, echo_brain, suggestions
from web.identity import MEMBERS, require_user, requires
from web.openapi import Blueprint, ErrorSchema
from web.schemas.echo import (
    AcceptedSuggestionSchema,
    AcceptSchema,
    BrainstormAskSchema,
    DialogueAskSchema,
    EnhancedSchema,
    EnhanceSchema,
    ScenesAskSchema,
    SuggestionPageSchema,
    SuggestionQuerySchema,
    SuggestionSchema,
)

blp = Blueprint("echo", __name__, url_prefix="/echo", description="Echo Brain, the assistant")
GATEWAY = {
    502: "The LLM server failed: unreachable, refusing the call, or answering badly twice.",
    503: "No LLM is configured (the message says how to configure one).",
    504: "No valid answer within the deadline (llm_timeout_s), or every farm-wide slot busy.",
}


def asks_the_llm(view):
    """Document the gateway answers of an endpoint that asks the LLM."""
    for status, description in GATEWAY.items():
        view = blp.alt_response(status, schema=ErrorSchema, description=description)(view)
    return view


@blp.route("/enhance-prompt", methods=["POST"])
@requires()
@blp.arguments(EnhanceSchema)
@blp.response(200, EnhancedSchema)
@asks_the_llm
def enhance_prompt(data):
    """A better prompt and a negative prompt (rule-based when no LLM is configured)."""
    return echo.enhance_prompt(require_user(), data.pop("prompt"), **data)


@blp.route("/episodes/<int:episode_id>/scenes", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(ScenesAskSchema)
@blp.response(201, SuggestionSchema)
@asks_the_llm
def suggest_scenes(data, episode_id):
    """Suggest the episode's next scenes, each ready to render."""
    return echo_brain.suggest_scenes(require_user(), episode_id, **data)


@blp.route("/scenes/<int:scene_id>/dialogue", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(DialogueAskSchema)
@blp.response(201, SuggestionSchema)
@asks_the_llm
def suggest_dialogue(data, scene_id):
    """Suggest a scene's dialogue: lines with their speaker and time inside the scene."""
    return echo_brain.suggest_dialogue(require_user(), scene_id, **data)


@blp.route("/episodes/<int:episode_id>/continue", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(ScenesAskSchema)
@blp.response(201, SuggestionSchema)
@asks_the_llm
def continue_episode(data, episode_id):
    """Suggest the next episode: title, synopsis and scenes."""
    return echo_brain.continue_episode(require_user(), episode_id, **data)


@blp.route("/projects/<int:project_id>/brainstorm", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(BrainstormAskSchema)
@blp.response(201, SuggestionSchema)
@asks_the_llm
def brainstorm(data, project_id):
    """Premises, characters and settings for the project."""
    return echo_brain.brainstorm(require_user(), project_id, **data)


@blp.route("/episodes/<int:episode_id>/analysis", methods=["POST"])
@requires(*MEMBERS)
@blp.response(201, SuggestionSchema)
@asks_the_llm
def analyse(episode_id):
    """Findings on the episode's pacing, arcs and continuity, each naming its scenes."""
    return echo_brain.analyse(require_user(), episode_id)


@blp.route("/projects/<int:project_id>/suggestions", methods=["GET"])
@requires()
@blp.arguments(SuggestionQuerySchema, location="query")
@blp.response(200, SuggestionPageSchema)
def list_suggestions(query, project_id):
    """A project's suggestions, newest first (the caller's own; staff see all)."""
    return suggestions.list_suggestions(require_user(), project_id, **query)


@blp.route("/suggestions/<int:suggestion_id>", methods=["GET"])
@requires()
@blp.response(200, SuggestionSchema)
def get_suggestion(suggestion_id):
    """One suggestion."""
    return suggestions.visible_suggestion(require_user(), suggestion_id)


@blp.route("/suggestions/<int:suggestion_id>/accept", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(AcceptSchema)
@blp.response(200, AcceptedSuggestionSchema)
def accept(data, suggestion_id):
    """Accept a suggestion: scenes are created, dialogue written into its scene."""
    return suggestions.accept(require_user(), suggestion_id, **data)
