"""Echo Brain's calls: the methods TowerClient gets for the creative assistant."""

from __future__ import annotations

from typing import Any

# The farm answers within its LLM deadline (60 s by default); wait a little past it.
ASK_TIMEOUT_S = 150.0


class EchoMethods:
    """Echo Brain's endpoints; mixed into TowerClient, whose `call` they use."""

    def _ask(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        return self.call("POST", path, json=body, timeout=ASK_TIMEOUT_S)

    def enhance_prompt(
        self,
        prompt: str,
        *,
        project_id: int | None = None,
        character_ids: list[int] | None = None,
        style: str = "",
    ) -> dict[str, Any]:
        """A better prompt and a negative prompt (rule-based when the farm has no LLM)."""
        body = {"prompt": prompt, "project_id": project_id,
                "character_ids": list(character_ids or []), "style": style}  # fmt: skip
        return self._ask("/echo/enhance-prompt", body)

    def suggest_scenes(self, episode_id: int, *, count: int = 3, brief: str = "") -> dict:
        """A suggestion of the episode's next scenes."""
        body = {"count": count, "brief": brief}
        return self._ask(f"/echo/episodes/{int(episode_id)}/scenes", body)

    def suggest_dialogue(self, scene_id: int, *, max_lines: int = 4, brief: str = "") -> dict:
        """A suggestion of a scene's dialogue lines."""
        body = {"max_lines": max_lines, "brief": brief}
        return self._ask(f"/echo/scenes/{int(scene_id)}/dialogue", body)

    def continue_episode(self, episode_id: int, *, count: int = 3, brief: str = "") -> dict:
        """A suggestion of the next episode: title, synopsis and scenes."""
        body = {"count": count, "brief": brief}
        return self._ask(f"/echo/episodes/{int(episode_id)}/continue", body)

    def brainstorm(self, project_id: int, *, topic: str = "") -> dict[str, Any]:
        """Premises, characters and settings for a project."""
        return self._ask(f"/echo/projects/{int(project_id)}/brainstorm", {"topic": topic})

    def analyse_episode(self, episode_id: int) -> dict[str, Any]:
        """Findings on an episode's storyline, each naming its scenes."""
        return self._ask(f"/echo/episodes/{int(episode_id)}/analysis", None)

    def suggestions(
        self, project_id: int, *, feature: str | None = None, limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A page of a project's suggestions, newest first."""
        params = {"limit": limit, **({"feature": feature} if feature else {}),
                  **({"cursor": cursor} if cursor else {})}  # fmt: skip
        return self.call("GET", f"/echo/projects/{int(project_id)}/suggestions", params=params)

    def suggestion(self, suggestion_id: int) -> dict[str, Any]:
        """One suggestion."""
        return self.call("GET", f"/echo/suggestions/{int(suggestion_id)}")

    def accept_suggestion(self, suggestion_id: int, *, replace: bool = False) -> dict[str, Any]:
        """Accept a suggestion: its scenes, episode or dialogue are written."""
        return self.call(
            "POST", f"/echo/suggestions/{int(suggestion_id)}/accept", json={"replace": replace}
        )
