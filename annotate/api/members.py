"""A project's members (managers): list, add, change role, deactivate and
reactivate, through the members page's services."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_member, access_project
from annotate.api.common import authenticated_user, paged, paged_response, responses
from annotate.models import Membership, Role
from annotate.services.members import (
    Credentials,
    membership_add,
    membership_deactivate,
    membership_reactivate,
    membership_role_set,
)


class MemberOutputSerializer(serializers.Serializer[Membership]):
    id = serializers.IntegerField(source="user_id", help_text="The member's user id.")
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    role = serializers.ChoiceField(choices=Role.choices)
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    deactivated_at = serializers.DateTimeField(allow_null=True)
    annotations_count = serializers.IntegerField()


class MemberAddedSerializer(MemberOutputSerializer):
    # A new user's way in, as the members page shows it: once, stored nowhere.
    password = serializers.CharField(
        allow_null=True, help_text="A new user's one-time password."
    )
    invitation_url = serializers.URLField(
        allow_null=True, help_text="A new user's link to set their password."
    )


class MemberListApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        username = serializers.CharField(required=False, allow_blank=True)
        email = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text="Finds the user by e-mail, or gives a new user this e-mail.",
        )
        role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)
        credentials = serializers.ChoiceField(
            choices=Credentials.choices,
            default=Credentials.PASSWORD,
            help_text="What a new user gets to log in with.",
        )

    @extend_schema(
        summary="The project's members, active or not (managers)",
        responses=responses({200: paged(MemberOutputSerializer)}),
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        members = Membership.objects.filter(project=project).select_related("user")
        return paged_response(request, self, members, MemberOutputSerializer)

    @extend_schema(
        summary="Add a member (managers); a new user's password or invitation "
        "link is in this answer only",
        request=InputSerializer,
        responses=responses({201: MemberAddedSerializer}, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        added = membership_add(
            project=project,
            role=Role(d["role"]),
            credentials=Credentials(d["credentials"]),
            username=d.get("username", ""),
            email=d.get("email", ""),
            actor=authenticated_user(request),
            now=timezone.now(),
        )
        body = {
            **MemberOutputSerializer(added.membership).data,
            "password": added.password,
            "invitation_url": request.build_absolute_uri(added.invitation_path)
            if added.invitation_path
            else None,
        }
        response = Response(body, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)
        return response


class MemberDetailApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        role = serializers.ChoiceField(choices=Role.choices, required=False)
        is_active = serializers.BooleanField(
            required=False,
            help_text="false deactivates (live claims go back to the queue), "
            "true reactivates.",
        )

    @extend_schema(
        summary="Change a member's role, deactivate or reactivate them (managers)",
        request=InputSerializer,
        responses=responses({200: MemberOutputSerializer}, invalid=True),
    )
    def patch(self, request: Request, project_id: int, member_id: int) -> Response:
        _, member = access_member(request.user, project_id, member_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        actor, now = authenticated_user(request), timezone.now()
        if "role" in d:
            member = membership_role_set(
                membership=member, role=Role(d["role"]), actor=actor, now=now
            )
        if d.get("is_active") is False:
            member, _ = membership_deactivate(membership=member, actor=actor, now=now)
        elif d.get("is_active") is True:
            member = membership_reactivate(membership=member, actor=actor, now=now)
        member.refresh_from_db()
        return Response(MemberOutputSerializer(member).data)
